import NIOCore
import ProxyCore
import ProxyTransport

/// What every connection on one event loop shares: its metrics shard and upstream pools. Created on the loop at
/// start-up and only ever touched there.
public final class LoopContext {
    public let eventLoop: EventLoop
    public let metrics: MetricsShard
    let http1: HTTP1ConnectionPool
    let http2: HTTP2ConnectionPool
    /// Flushes HTTP/2 connections once per loop iteration.
    let flusher: FlushBatcher
    /// Round-robin cursor over static endpoints (discovered ones are balanced by P2C).
    var nextPick = 0
    /// Discovery, when a controller is configured.
    let discovery: DestinationLookup?
    /// Mesh TLS, when the proxy has an identity: requests to endpoints with an identity go over mTLS.
    public var meshTLS: MeshTLS? { self.endpoints.meshTLS }
    /// Where every attempt's endpoint is picked and reached, HTTP and opaque alike.
    public let endpoints: EndpointClient
    /// The Policy API, when a controller is configured: outbound requests to a Service port go by its routes.
    let policies: (any PolicyLookup)?
    let clusterDomain: String
    /// Circuit breakers, shared with the other loops.
    let accrualBoard: AccrualBoard
    private var destinations: [String: LoopDestination] = [:]
    /// Builds each destination's stages.
    let chainBuilder: StageChainBuilder
    /// The stage chains built, by destination. Destinations named by clients are unbounded, so the cache is dropped
    /// whole when it grows past `maximumChains` (rebuilding a chain is cheap).
    private var chains: [StageTarget: StageChain] = [:]
    static let maximumChains = 4096

    public convenience init(
        eventLoop: EventLoop, config: ProxyConfig, connector: UpstreamConnector, discovery: DestinationLookup? = nil,
        meshTLS: MeshTLS? = nil,
        policies: (any PolicyLookup)? = nil, accrualBoard: AccrualBoard = AccrualBoard(), chainBuilder: StageChainBuilder = .standard
    ) {
        self.init(
            eventLoop: eventLoop, config: config, connector: connector, discovery: discovery, meshTLS: meshTLS, policies: policies,
            accrualBoard: accrualBoard, chainBuilder: chainBuilder, upstreams: nil
        )
    }

    /// `upstreams`: how attempts reach their endpoints (nil: this loop's pools); a test gives a scripted one.
    init(
        eventLoop: EventLoop, config: ProxyConfig, connector: UpstreamConnector, discovery: DestinationLookup?, meshTLS: MeshTLS?,
        policies: (any PolicyLookup)?, accrualBoard: AccrualBoard, chainBuilder: StageChainBuilder, upstreams: (any UpstreamOpener)?
    ) {
        self.eventLoop = eventLoop
        self.accrualBoard = accrualBoard
        self.policies = policies
        self.clusterDomain = config.clusterDomain
        self.chainBuilder = chainBuilder
        self.discovery = discovery
        self.metrics = MetricsShard()
        self.http1 = HTTP1ConnectionPool(
            eventLoop: eventLoop, connector: connector, metrics: self.metrics,
            maxIdlePerEndpoint: config.maxIdleConnectionsPerEndpoint,
            idleTimeout: TimeAmount(config.upstreamIdleTimeout)
        )
        self.flusher = FlushBatcher(eventLoop: eventLoop)
        self.http2 = HTTP2ConnectionPool(eventLoop: eventLoop, connector: connector, metrics: self.metrics, flusher: self.flusher)
        self.endpoints = EndpointClient(meshTLS: meshTLS, upstreams: upstreams ?? PooledUpstreams(http1: self.http1, http2: self.http2))
    }

    func pick(_ count: Int) -> Int {
        self.nextPick &+= 1
        return self.nextPick % max(count, 1)
    }

    /// This loop's balancer for `authority` (lower-case `host:port`), created on first use.
    public func destination(for authority: String) -> LoopDestination? {
        guard let discovery = self.discovery else { return nil }
        if let known = self.destinations[authority], !known.entry.isEvicted { return known }
        // Creation is rare: drop what discovery evicted meanwhile.
        self.destinations = self.destinations.filter { !$0.value.entry.isEvicted }
        let created = LoopDestination(entry: discovery.entry(for: authority))
        self.destinations[authority] = created
        // The same name's policy is asked for now too, not after discovery's answer: a new destination's first
        // request then waits for one round trip to the controller, not two in turn.
        _ = self.policies?.policy(for: authority)
        return created
    }

    /// `destination` as text; the last one is remembered, since a listener's connections mostly share one.
    func name(of destination: HostPort) -> String {
        if let last = self.lastName, last.destination == destination { return last.name }
        let name = destination.description
        self.lastName = (destination, name)
        return name
    }

    private var lastName: (destination: HostPort, name: String)?

    /// The chain of `target`, built on first use (again once discovery evicted its destination).
    func chain(for target: StageTarget) -> StageChain {
        if let known = self.chains[target], !known.isEvicted { return known }
        if self.chains.count >= Self.maximumChains { self.chains = [:] }
        let chain = self.chainBuilder.chain(for: target, resources: self)
        self.chains[target] = chain
        return chain
    }

    public func closeIdleConnections() {
        self.http1.closeAll()
        self.http2.closeAll()
    }
}

@available(*, unavailable)
extension LoopContext: Sendable {}
