/// The merged values of every shard at one scrape, and their Prometheus text rendering.
public struct MetricsSnapshot: Sendable {
    struct ResponseValues: Sendable {
        var count: UInt64 = 0
        var buckets = [UInt64](repeating: 0, count: RequestMetrics.latencyBounds.count + 1)
        var sumMilliseconds: Double = 0
    }

    struct RequestValues: Sendable {
        var requests: UInt64 = 0
        /// Keyed by `status_code` (and `grpc_status`).
        var responses: [ResponseKey: ResponseValues] = [:]

        mutating func add(_ series: RequestMetrics) {
            self.requests &+= series.requests
            for response in series.responses {
                let key = ResponseKey(status: response.status, grpcStatus: response.grpcStatus)
                self.responses[key, default: .init()].add(response.count, response.buckets, response.sumMilliseconds)
            }
        }

        mutating func merge(_ other: RequestValues) {
            self.requests &+= other.requests
            for (key, value) in other.responses {
                self.responses[key, default: .init()].add(value.count, value.buckets, value.sumMilliseconds)
            }
        }
    }

    struct ResponseKey: Hashable, Comparable, Sendable {
        var status: Int
        var grpcStatus: Int?

        static func < (lhs: ResponseKey, rhs: ResponseKey) -> Bool {
            (lhs.status, lhs.grpcStatus ?? -1) < (rhs.status, rhs.grpcStatus ?? -1)
        }

        /// Linkerd's classification: a 5xx or a non-zero `grpc-status` is a failure.
        var classification: String {
            if self.status >= 500 { return "failure" }
            if let grpc = self.grpcStatus, grpc != 0 { return "failure" }
            return "success"
        }

        var rendered: String {
            var text = "status_code=\"\(status)\",classification=\"\(classification)\""
            if let grpcStatus { text += ",grpc_status=\"\(grpcStatus)\"" }
            return text
        }
    }

    struct TCPValues: Sendable {
        var opened: UInt64 = 0
        var closed: UInt64 = 0
        var readBytes: UInt64 = 0
        var writtenBytes: UInt64 = 0

        mutating func add(_ series: TCPMetrics) {
            self.opened &+= series.opened
            self.closed &+= series.closed
            self.readBytes &+= series.readBytes
            self.writtenBytes &+= series.writtenBytes
        }

        mutating func merge(_ other: TCPValues) {
            self.opened &+= other.opened
            self.closed &+= other.closed
            self.readBytes &+= other.readBytes
            self.writtenBytes &+= other.writtenBytes
        }
    }

    /// Keyed by the rendered label set.
    var requests: [String: RequestValues] = [:]
    var tcp: [String: TCPValues] = [:]
    /// The route families, keyed by rendered labels.
    var routes: [String: RouteValues] = [:]
    var backends: [String: RouteValues] = [:]
    var inboundRoutes: [String: RouteValues] = [:]
    /// `(ready, ejected)` endpoints per balancer (the loops' balancers of one backend agree: the largest is kept).
    var balancers: [String: (ready: Int, ejected: Int)] = [:]
    var httpErrors = [[UInt64]](repeating: [UInt64](repeating: 0, count: ProxyError.Code.all.count), count: 2)
    var tcpErrors = [[UInt64]](repeating: [UInt64](repeating: 0, count: ProxyError.Code.all.count), count: 2)

    public init() {}

    public mutating func merge(_ other: MetricsSnapshot) {
        for (labels, values) in other.requests { self.requests[labels, default: .init()].merge(values) }
        for (labels, values) in other.tcp { self.tcp[labels, default: .init()].merge(values) }
        for (labels, values) in other.routes { self.routes[labels, default: .init(family: values.family)].merge(values) }
        for (labels, values) in other.backends { self.backends[labels, default: .init(family: values.family)].merge(values) }
        for (labels, values) in other.inboundRoutes { self.inboundRoutes[labels, default: .init(family: values.family)].merge(values) }
        for (labels, states) in other.balancers {
            let known = self.balancers[labels] ?? (0, 0)
            self.balancers[labels] = (max(known.ready, states.ready), max(known.ejected, states.ejected))
        }
        for direction in 0..<2 {
            for code in 0..<ProxyError.Code.all.count {
                self.httpErrors[direction][code] &+= other.httpErrors[direction][code]
                self.tcpErrors[direction][code] &+= other.tcpErrors[direction][code]
            }
        }
    }

    /// Appends the families in Prometheus text format 0.0.4, series sorted so scrapes diff cleanly.
    public func render(into out: inout String) {
        let requestLabels = self.requests.keys.sorted()
        out += "# HELP request_total Total count of HTTP requests.\n# TYPE request_total counter\n"
        for labels in requestLabels {
            out += "request_total{\(labels)} \(self.requests[labels]!.requests)\n"
        }
        out += "# HELP response_total Total count of HTTP responses.\n# TYPE response_total counter\n"
        for labels in requestLabels {
            let values = self.requests[labels]!
            for key in values.responses.keys.sorted() {
                out += "response_total{\(labels),\(key.rendered)} \(values.responses[key]!.count)\n"
            }
        }
        out += "# HELP response_latency_ms Elapsed times between a request's headers being received and its response stream completing.\n"
        out += "# TYPE response_latency_ms histogram\n"
        for labels in requestLabels {
            let values = self.requests[labels]!
            for key in values.responses.keys.sorted() {
                let response = values.responses[key]!
                let series = "\(labels),status_code=\"\(key.status)\""
                var cumulative: UInt64 = 0
                for (index, bound) in RequestMetrics.latencyBounds.enumerated() {
                    cumulative &+= response.buckets[index]
                    out += "response_latency_ms_bucket{\(series),le=\"\(Int(bound))\"} \(cumulative)\n"
                }
                cumulative &+= response.buckets[RequestMetrics.latencyBounds.count]
                out += "response_latency_ms_bucket{\(series),le=\"+Inf\"} \(cumulative)\n"
                out += "response_latency_ms_sum{\(series)} \(formatDouble(response.sumMilliseconds))\n"
                out += "response_latency_ms_count{\(series)} \(cumulative)\n"
            }
        }
        let tcpLabels = self.tcp.keys.sorted()
        self.renderTCP(&out, tcpLabels, "tcp_open_total", "counter", "Total count of opened connections.") { $0.opened }
        self.renderTCP(&out, tcpLabels, "tcp_close_total", "counter", "Total count of closed connections.") { $0.closed }
        self.renderTCP(&out, tcpLabels, "tcp_open_connections", "gauge", "Number of currently-open connections.") {
            $0.opened >= $0.closed ? $0.opened - $0.closed : 0
        }
        self.renderTCP(&out, tcpLabels, "tcp_read_bytes_total", "counter", "Total count of bytes read from peers.") {
            $0.readBytes
        }
        self.renderTCP(&out, tcpLabels, "tcp_write_bytes_total", "counter", "Total count of bytes written to peers.") {
            $0.writtenBytes
        }
        self.renderRoutes(into: &out)
        for direction in TrafficDirection.allCases {
            let name = "\(direction.label)_http_errors_total"
            out += "# HELP \(name) The total number of \(direction.label) HTTP requests that could not be processed due to a proxy error.\n"
            out += "# TYPE \(name) counter\n"
            for code in ProxyError.Code.all where self.httpErrors[direction.rawValue][code.index] > 0 {
                out += "\(name){error=\"\(code.label)\"} \(self.httpErrors[direction.rawValue][code.index])\n"
            }
        }
        for direction in TrafficDirection.allCases {
            let name = "\(direction.label)_tcp_errors_total"
            out +=
                "# HELP \(name) The total number of \(direction.label) TCP connections that could not be processed due to a proxy error.\n"
            out += "# TYPE \(name) counter\n"
            for code in ProxyError.Code.all where self.tcpErrors[direction.rawValue][code.index] > 0 {
                out += "\(name){error=\"\(code.label)\"} \(self.tcpErrors[direction.rawValue][code.index])\n"
            }
        }
    }

    private func renderTCP(
        _ out: inout String, _ labels: [String], _ name: String, _ type: String, _ help: String,
        _ value: (TCPValues) -> UInt64
    ) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for label in labels { out += "\(name){\(label)} \(value(self.tcp[label]!))\n" }
    }
}

extension MetricsSnapshot.ResponseValues {
    mutating func add(_ count: UInt64, _ buckets: [UInt64], _ sum: Double) {
        self.count &+= count
        for index in buckets.indices { self.buckets[index] &+= buckets[index] }
        self.sumMilliseconds += sum
    }
}

/// Prometheus floats: integers without a fraction, others with up to three decimals.
func formatDouble(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}
