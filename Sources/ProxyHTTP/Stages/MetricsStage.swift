import NIOCore
import ProxyCore

/// `request_total`, `response_total` and `response_latency_ms`, Linkerd's families, for every exchange of a
/// destination. The series is resolved when the endpoint is known (its address and identity are labels) and cached
/// by value, so the common keep-alive case costs a comparison, not a dictionary look-up.
///
/// Inbound, the server's route series too (Linkerd 2.17's `inbound_{http,grpc}_route_*`): until inbound policy
/// exists the server is the port and the route its default one, gRPC calls in the gRPC family. They are recorded here
/// rather than by a stage of their own: the same exchange, the same clock reading (a stage of its own measured +1.2 %
/// instructions per request on the inbound path, mostly its dispatch and a second clock read).
final class MetricsStage: HTTPStage {
    let shard: MetricsShard
    /// The series an exchange counts in, once its endpoint is known.
    let slot = StageSlot<RequestMetrics>()
    private var cached: (authority: String, endpoint: HostPort, identity: String?, tls: TLSLabel, metrics: RequestMetrics)?
    /// The inbound server's port; nil outbound.
    let serverPort: Int?
    private lazy var httpRoute = self.shard.inboundRouteSeries(for: InboundRouteLabels(family: .http, port: self.serverPort ?? 0))
    /// Made on the first gRPC call: a port that serves none renders none.
    private lazy var grpcRoute = self.shard.inboundRouteSeries(for: InboundRouteLabels(family: .grpc, port: self.serverPort ?? 0))

    init(shard: MetricsShard, serverPort: Int? = nil) {
        self.shard = shard
        self.serverPort = serverPort
    }

    func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {
        guard exchange.slots[self.slot] == nil else { return }
        let series = self.series(exchange, endpoint)
        series.recordRequest()
        exchange.slots[self.slot] = series
    }

    func finished(_ exchange: Exchange) {
        let metrics = exchange.slots[self.slot]
        guard metrics != nil || self.serverPort != nil else { return }
        let elapsed = exchange.elapsedNanoseconds
        metrics?.recordResponse(status: exchange.responseStatus, grpcStatus: exchange.grpcStatus, latencyNanoseconds: elapsed)
        if self.serverPort != nil {
            let series = exchange.isGRPC ? self.grpcRoute : self.httpRoute
            series.record(RouteStage.outcome(of: exchange), seconds: Double(elapsed) / 1e9)
        }
    }

    private func series(_ exchange: Exchange, _ endpoint: ChosenEndpoint) -> RequestMetrics {
        let target = endpoint.target
        let tls = exchange.tlsLabel(target)
        if let cached = self.cached, cached.endpoint == target.endpoint, cached.authority == target.authority,
            cached.identity == target.identity,
            cached.tls == tls
        {
            return cached.metrics
        }
        let series = self.shard.requestMetrics(
            for: RequestLabels(
                direction: exchange.connection.direction, authority: target.authority, targetAddress: target.endpoint.description, tls: tls,
                destinationLabels: endpoint.labels
            )
        )
        self.cached = (target.authority, target.endpoint, target.identity, tls, series)
        return series
    }
}

@available(*, unavailable)
extension MetricsStage: Sendable {}
