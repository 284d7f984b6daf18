/// Counters and latency histograms of one request label set, owned by one event loop.
///
/// A handler resolves its `RequestMetrics` once per target and then updates plain integers: no lock, no atomic,
/// no dictionary on the request path. The admin server reads them by running `snapshot()` on the owning loop.
public final class RequestMetrics {
    /// Upper bounds of `response_latency_ms`, in milliseconds, as Linkerd exports them.
    public static let latencyBounds: [Double] = [
        1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000,
        30000, 40000, 50000,
    ]

    struct ResponseSeries {
        var status: Int
        var grpcStatus: Int?
        var count: UInt64 = 0
        /// Per-bucket (non-cumulative) counts; the last slot is `+Inf`.
        var buckets = [UInt64](repeating: 0, count: RequestMetrics.latencyBounds.count + 1)
        var sumMilliseconds: Double = 0
    }

    public let labels: RequestLabels
    let rendered: String
    var requests: UInt64 = 0
    var responses: [ResponseSeries] = []

    init(labels: RequestLabels) {
        self.labels = labels
        self.rendered = labels.rendered
    }

    public func recordRequest() {
        self.requests &+= 1
    }

    /// Records a finished response. `grpcStatus` is the `grpc-status` trailer or header, when present.
    public func recordResponse(status: Int, grpcStatus: Int?, latencyNanoseconds: Int64) {
        let milliseconds = Double(max(latencyNanoseconds, 0)) / 1_000_000
        var bucket = Self.latencyBounds.count
        for (index, bound) in Self.latencyBounds.enumerated() where milliseconds <= bound {
            bucket = index
            break
        }
        // A handful of distinct statuses per target at most: a linear scan beats hashing.
        for index in self.responses.indices
        where self.responses[index].status == status && self.responses[index].grpcStatus == grpcStatus {
            self.responses[index].count &+= 1
            self.responses[index].buckets[bucket] &+= 1
            self.responses[index].sumMilliseconds += milliseconds
            return
        }
        var series = ResponseSeries(status: status, grpcStatus: grpcStatus)
        series.count = 1
        series.buckets[bucket] = 1
        series.sumMilliseconds = milliseconds
        self.responses.append(series)
    }
}

@available(*, unavailable)
extension RequestMetrics: Sendable {}

/// Byte and connection counters of one TCP label set, owned by one event loop.
public final class TCPMetrics {
    public let labels: TCPLabels
    let rendered: String
    var opened: UInt64 = 0
    var closed: UInt64 = 0
    var readBytes: UInt64 = 0
    var writtenBytes: UInt64 = 0

    init(labels: TCPLabels) {
        self.labels = labels
        self.rendered = labels.rendered
    }

    public func recordOpen() { self.opened &+= 1 }
    /// The connection turned out to belong to another series (its TLS was terminated): it no longer counts here.
    public func forgetOpen() { self.opened &-= 1 }
    public func recordClose() { self.closed &+= 1 }
    public func recordRead(_ count: Int) { self.readBytes &+= UInt64(count) }
    public func recordWrite(_ count: Int) { self.writtenBytes &+= UInt64(count) }
}

@available(*, unavailable)
extension TCPMetrics: Sendable {}
