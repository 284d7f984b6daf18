import Logging
import NIOCore
import ProxyCore
import ProxyTransport

/// What every exchange of one downstream connection shares: where the connection goes, its TLS, the loop's
/// resources, and small caches of what the last request resolved to (keep-alive connections mostly repeat it).
public final class ConnectionContext {
    public let direction: TrafficDirection
    /// The connection's destination if known before reading (transparent mode, explicit inbound).
    public let destination: HostPort?
    /// `destination` as text, formatted once: requests without a discovery key are named by it.
    let destinationName: String?
    public let router: TargetResolver
    public let resources: LoopContext
    public let tls: TLSLabel
    /// The downstream is HTTP/2.
    public let isHTTP2: Bool
    public let logger: Logger
    /// How long a request waits for discovery's first answer about its authority.
    let discoveryTimeout: TimeAmount
    let exchangeConfiguration: ExchangeStateMachine.Configuration

    /// The client's address, read when the server handler is added (tap reports it).
    public internal(set) var peer: SocketAddress? {
        didSet { self.peerHostPort = nil }
    }
    /// `peer` as tap names it, made on the first tapped request and kept for the connection's others.
    var peerHostPort: HostPort?
    /// What a stage keeps from one request of the connection for the next (tap: the encoded part its events share,
    /// which the requests of a connection to one endpoint have in common).
    public var stageMemo: AnyObject?

    /// The last authority's chain: keep-alive connections mostly repeat it.
    private var lastChain: (authority: String?, chain: StageChain)?

    public init(
        direction: TrafficDirection, destination: HostPort?, router: TargetResolver, resources: LoopContext, tls: TLSLabel, isHTTP2: Bool,
        responseTimeout: TimeAmount?, discoveryTimeout: TimeAmount = .seconds(3), logger: Logger
    ) {
        self.direction = direction
        self.destination = destination
        self.destinationName = destination.map { resources.name(of: $0) }
        self.router = router
        self.resources = resources
        self.tls = tls
        self.isHTTP2 = isHTTP2
        self.logger = logger
        self.discoveryTimeout = discoveryTimeout
        self.exchangeConfiguration = .init(responseTimeout: responseTimeout)
    }

    var eventLoop: EventLoop { self.resources.eventLoop }

    /// The chain of a request to `authority`: its discovery key's (outbound, when discovery has a say), else the
    /// connection's destination's or the authority's own.
    func chain(for authority: String?) -> StageChain {
        if let last = self.lastChain, last.authority == authority, !last.chain.isEvicted { return last.chain }
        let key = self.router.discoveryKey(direction: self.direction, authority: authority, connectionDestination: self.destination)
        let target = StageTarget(direction: self.direction, name: key ?? self.destinationName ?? authority ?? "", discovered: key != nil)
        let chain = self.resources.chain(for: target)
        self.lastChain = (authority, chain)
        return chain
    }
}

@available(*, unavailable)
extension ConnectionContext: Sendable {}
