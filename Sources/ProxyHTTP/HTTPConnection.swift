import Logging
import NIOCore
import ProxyCore
import ProxyTransport

/// What every exchange of one downstream connection shares: where the connection goes, its TLS, the loop's
/// resources, and small caches of what the last request resolved to (keep-alive connections mostly repeat it).
public final class HTTPConnection {
    public let direction: TrafficDirection
    /// The connection's destination if known before reading (transparent mode, explicit inbound).
    public let destination: HostPort?
    /// `destination` as text, formatted once: requests without a discovery key are named by it.
    let destinationName: String?
    public let router: Router
    public let resources: LoopResources
    public let tls: TLSLabel
    /// The downstream is HTTP/2.
    public let isHTTP2: Bool
    public let logger: Logger
    /// How long a request waits for discovery's first answer about its authority.
    let discoveryTimeout: TimeAmount
    let exchangeConfiguration: ExchangeStateMachine.Configuration

    /// The last authority's discovery key and destination.
    private var lastRoute: (authority: String?, key: String?, destination: LoopDestination?)?
    private var lastChain: (target: StageTarget, chain: StageChain)?

    public init(
        direction: TrafficDirection, destination: HostPort?, router: Router, resources: LoopResources, tls: TLSLabel, isHTTP2: Bool,
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

    /// The discovery key and destination of a request to `authority` (both `nil` when discovery has no say).
    func route(for authority: String?) -> (key: String?, destination: LoopDestination?) {
        if let last = self.lastRoute, last.authority == authority, !(last.destination?.entry.isEvicted ?? false) {
            return (last.key, last.destination)
        }
        let key = self.router.discoveryKey(direction: self.direction, authority: authority, connectionDestination: self.destination)
        let destination = key.flatMap { self.resources.destination(for: $0) }
        self.lastRoute = (authority, key, destination)
        return (key, destination)
    }

    /// The stage chain of `target`, built on first use and kept by the loop.
    func chain(for target: StageTarget) -> StageChain {
        if let last = self.lastChain, last.target == target { return last.chain }
        let chain = self.resources.chain(for: target)
        self.lastChain = (target, chain)
        return chain
    }
}

@available(*, unavailable)
extension HTTPConnection: Sendable {}
