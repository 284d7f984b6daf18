import NIOCore
import ProxyCore

/// One destination as one event loop balances it: the shared discovery entry and this loop's P2C balancer.
public final class LoopDestination {
    public let entry: DestinationEntry
    private var seenVersion: UInt64 = .max
    private var balancer = P2CBalancer(random: SystemRandomNumberGenerator())
    public private(set) var state: DestinationEntry.State = .pending

    init(entry: DestinationEntry) {
        self.entry = entry
    }

    /// Takes in what discovery published since the last request (one atomic load when nothing changed).
    public func refresh(now: UInt64) {
        let version = self.entry.version
        guard version != self.seenVersion else { return }
        self.seenVersion = version
        self.state = self.entry.current
        if case .endpoints(let endpoints) = self.state { self.balancer.update(endpoints, now: now) }
    }

    public func pick(now: UInt64) -> EndpointLoad? {
        self.balancer.pick(now: now)
    }
}

@available(*, unavailable)
extension LoopDestination: Sendable {}
