import ProxyCore

/// An inbound server's route series (Linkerd 2.17's `inbound_{http,grpc}_route_*` families): every exchange's outcome
/// and duration, gRPC calls in the gRPC family (their `grpc-status` is their outcome), the others in HTTP's.
///
/// Until inbound policy exists, the server is the port and the route its default one; the gRPC series is made on the
/// first call, so a port that serves none renders none.
final class InboundRouteMetricsStage: HTTPStage {
    let shard: MetricsShard
    let port: Int
    private lazy var http = self.shard.inboundRouteSeries(for: InboundRouteLabels(family: .http, port: self.port))
    private lazy var grpc = self.shard.inboundRouteSeries(for: InboundRouteLabels(family: .grpc, port: self.port))

    init(shard: MetricsShard, port: Int) {
        self.shard = shard
        self.port = port
    }

    func finished(_ exchange: Exchange) {
        let series = exchange.isGRPC ? self.grpc : self.http
        series.record(RouteStage.outcome(of: exchange), seconds: Double(exchange.elapsedNanoseconds) / 1e9)
    }
}

@available(*, unavailable)
extension InboundRouteMetricsStage: Sendable {}
