import NIOCore
import ProxyCore
import ProxyTransport

/// What every connection on one event loop shares: its metrics shard and upstream pools. Created on the loop at
/// start-up and only ever touched there.
public final class LoopResources {
    public let eventLoop: EventLoop
    public let metrics: MetricsShard
    let http1: HTTP1ConnectionPool
    let http2: HTTP2ConnectionPool
    /// Round-robin cursor over static endpoints (discovery brings real balancing).
    var nextPick = 0

    public init(eventLoop: EventLoop, config: ProxyConfig, connector: UpstreamConnector) {
        self.eventLoop = eventLoop
        self.metrics = MetricsShard()
        self.http1 = HTTP1ConnectionPool(
            eventLoop: eventLoop, connector: connector, metrics: self.metrics,
            maxIdlePerEndpoint: config.maxIdleConnectionsPerEndpoint,
            idleTimeout: TimeAmount(config.upstreamIdleTimeout)
        )
        self.http2 = HTTP2ConnectionPool(eventLoop: eventLoop, connector: connector, metrics: self.metrics)
    }

    func pick(_ count: Int) -> Int {
        self.nextPick &+= 1
        return self.nextPick % max(count, 1)
    }

    public func closeIdleConnections() {
        self.http1.closeAll()
        self.http2.closeAll()
    }
}

@available(*, unavailable)
extension LoopResources: Sendable {}
