/// `viz stat-outbound`'s routes from the answers to a `RouteStatQuery`'s queries: pure, tested without a Prometheus.
public struct RouteStatSummary: Sendable {
    public var query: RouteStatQuery
    public var statuses: [PrometheusSample] = []
    public var retries: [PrometheusSample] = []
    public var p50: [PrometheusSample] = []
    public var p95: [PrometheusSample] = []
    public var p99: [PrometheusSample] = []
    public var backendRequests: [PrometheusSample] = []
    public var backendStatuses: [PrometheusSample] = []
    public var backendP50: [PrometheusSample] = []
    public var backendP95: [PrometheusSample] = []
    public var backendP99: [PrometheusSample] = []

    public init(query: RouteStatQuery) {
        self.query = query
    }

    struct RouteKey: Hashable, Comparable {
        var namespace, service, port, kind, routeNamespace, route: String

        init(_ labels: [String: String]) {
            self.namespace = labels["parent_namespace"] ?? ""
            self.service = labels["parent_name"] ?? ""
            self.port = labels["parent_port"] ?? ""
            self.kind = labels["route_kind"] ?? ""
            self.routeNamespace = labels["route_namespace"] ?? ""
            self.route = labels["route_name"] ?? ""
        }

        static func < (lhs: RouteKey, rhs: RouteKey) -> Bool {
            (lhs.namespace, lhs.service, lhs.port, lhs.route) < (rhs.namespace, rhs.service, rhs.port, rhs.route)
        }
    }

    struct BackendKey: Hashable, Comparable {
        var route: RouteKey
        var namespace, name, port: String

        init(_ labels: [String: String]) {
            self.route = RouteKey(labels)
            self.namespace = labels["backend_namespace"] ?? ""
            self.name = labels["backend_name"] ?? ""
            self.port = labels["backend_port"] ?? ""
        }

        static func < (lhs: BackendKey, rhs: BackendKey) -> Bool {
            (lhs.route, lhs.namespace, lhs.name) < (rhs.route, rhs.namespace, rhs.name)
        }
    }

    /// An outcome is a success when no proxy error ended it and its status is below 500 (HTTP) or OK (gRPC).
    static func isSuccess(_ labels: [String: String]) -> Bool {
        guard (labels["error"] ?? "").isEmpty else { return false }
        if let grpc = labels["grpc_status"], !grpc.isEmpty { return grpc == "0" }
        guard let status = Int(labels["http_status"] ?? "") else { return false }
        return status < 500
    }

    struct Counts {
        var total = 0.0
        var success = 0.0
        var timeouts = 0.0
    }

    static func counts<Key: Hashable>(_ samples: [PrometheusSample], _ key: ([String: String]) -> Key) -> [Key: Counts] {
        var counts: [Key: Counts] = [:]
        for sample in samples where sample.value.isFinite {
            var count = counts[key(sample.labels)] ?? Counts()
            count.total += sample.value
            if Self.isSuccess(sample.labels) { count.success += sample.value }
            if RouteStatQuery.timeouts.contains(sample.labels["error"] ?? "") { count.timeouts += sample.value }
            counts[key(sample.labels)] = count
        }
        return counts
    }

    static func quantiles<Key: Hashable>(_ samples: [PrometheusSample], _ key: ([String: String]) -> Key) -> [Key: Double] {
        // Seconds in the histograms, milliseconds in the table; NaN (no requests) is no figure.
        Dictionary(samples.filter { $0.value.isFinite }.map { (key($0.labels), $0.value * 1000) }) { first, _ in first }
    }

    public var rows: [RouteStatRow] {
        let seconds = Double(max(self.query.window, 1))
        let routeCounts = Self.counts(self.statuses, RouteKey.init)
        let retries = Dictionary(self.retries.map { (RouteKey($0.labels), $0.value) }) { $0 + $1 }
        let (p50, p95, p99) = (
            Self.quantiles(self.p50, RouteKey.init), Self.quantiles(self.p95, RouteKey.init), Self.quantiles(self.p99, RouteKey.init)
        )
        let backendCounts = Self.counts(self.backendStatuses, BackendKey.init)
        let backendRequests = Dictionary(self.backendRequests.map { (BackendKey($0.labels), $0.value) }) { $0 + $1 }
        let (b50, b95, b99) = (
            Self.quantiles(self.backendP50, BackendKey.init), Self.quantiles(self.backendP95, BackendKey.init),
            Self.quantiles(self.backendP99, BackendKey.init)
        )
        let routes = Set(routeCounts.keys).union(backendRequests.keys.map(\.route)).sorted()
        let backends = Set(backendRequests.keys).union(backendCounts.keys).sorted()
        return routes.map { route in
            let count = routeCounts[route]
            let total = count?.total ?? 0
            let figures = RouteStatRow.Figures(
                success: total > 0 ? (count?.success ?? 0) / total : nil, rps: count.map { $0.total / seconds },
                latencyMsP50: p50[route], latencyMsP95: p95[route], latencyMsP99: p99[route])
            return RouteStatRow(
                service: "\(route.service):\(route.port)", serviceNamespace: route.namespace,
                route: route.kind == "default" ? "[default]" : route.route, type: route.kind == "default" ? "" : route.kind,
                figures: figures,
                timeouts: total > 0 ? (count?.timeouts ?? 0) / total : nil, retries: total > 0 ? (retries[route] ?? 0) / total : nil,
                backends: backends.filter { $0.route == route }.map { key in
                    let counts = backendCounts[key]
                    let responses = counts?.total ?? 0
                    return RouteStatRow.Backend(
                        namespace: key.namespace, name: key.name, port: key.port,
                        figures: .init(
                            success: responses > 0 ? (counts?.success ?? 0) / responses : nil,
                            rps: backendRequests[key].map { $0 / seconds } ?? counts.map { $0.total / seconds },
                            latencyMsP50: b50[key], latencyMsP95: b95[key], latencyMsP99: b99[key]))
                })
        }
    }

    /// The routes of `query`, its queries asked of `client` at once.
    public static func fetch(_ query: RouteStatQuery, client: PrometheusClient) async throws -> RouteStatSummary {
        async let statuses = client.query(query.statuses)
        async let retries = client.query(query.retries)
        async let p50 = client.query(query.latency(0.5))
        async let p95 = client.query(query.latency(0.95))
        async let p99 = client.query(query.latency(0.99))
        async let backendRequests = client.query(query.backendRequests)
        async let backendStatuses = client.query(query.backendStatuses)
        async let b50 = client.query(query.backendLatency(0.5))
        async let b95 = client.query(query.backendLatency(0.95))
        async let b99 = client.query(query.backendLatency(0.99))
        var summary = RouteStatSummary(query: query)
        (summary.statuses, summary.retries) = (try await statuses, try await retries)
        (summary.p50, summary.p95, summary.p99) = (try await p50, try await p95, try await p99)
        (summary.backendRequests, summary.backendStatuses) = (try await backendRequests, try await backendStatuses)
        (summary.backendP50, summary.backendP95, summary.backendP99) = (try await b50, try await b95, try await b99)
        return summary
    }
}
