import NIOCore
import ProxyCore

/// `request_total`, `response_total` and `response_latency_ms`, Linkerd's families, for every exchange of a
/// destination. The series is resolved when the endpoint is known (its address and identity are labels) and cached
/// by value, so the common keep-alive case costs a comparison, not a dictionary look-up.
final class MetricsStage: HTTPStage {
    let shard: MetricsShard
    /// The series an exchange counts in, once its endpoint is known.
    let slot = StageSlot<RequestMetrics>()
    private var cached: (authority: String, endpoint: HostPort, identity: String?, tls: TLSLabel, metrics: RequestMetrics)?

    init(shard: MetricsShard) {
        self.shard = shard
    }

    func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {
        guard exchange.slots[self.slot] == nil else { return }
        let series = self.series(exchange, endpoint)
        series.recordRequest()
        exchange.slots[self.slot] = series
    }

    func finished(_ exchange: Exchange) {
        guard let metrics = exchange.slots[self.slot] else { return }
        metrics.recordResponse(
            status: exchange.responseStatus, grpcStatus: exchange.grpcStatus, latencyNanoseconds: exchange.elapsedNanoseconds)
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
