import NIOCore
import ProxyCore

/// The last stage but one (the endpoint client is the last): where each attempt of a chain goes. A discovered
/// destination's endpoints, balanced by P2C; or, for a name discovery has no say over (or does not know), the
/// connection's own destination, the static table, or the name itself (DNS).
final class Balancer {
    enum Source {
        /// Discovery's endpoints of `key`.
        case discovered(LoopDestination, key: String)
        /// No discovery: the request's authority and the connection decide.
        case resolved
    }

    let source: Source

    init(_ source: Source) {
        self.source = source
    }

    /// The destination whose first answer the first attempt waits for, while discovery has not given one.
    func pendingDestination(now: UInt64) -> LoopDestination? {
        guard case .discovered(let destination, _) = self.source else { return nil }
        destination.use(now: now)
        return destination.state == .pending ? destination : nil
    }

    /// Whether a pick reads the clock (P2C's EWMA decays with time); plain traffic's does not.
    var needsClock: Bool {
        if case .discovered = self.source { return true }
        return false
    }

    /// The endpoint of one attempt, its load started; `avoiding` the endpoint the last attempt failed on.
    func pick(for exchange: Exchange, avoiding failed: HostPort?, now: UInt64) throws(ProxyError) -> ChosenEndpoint {
        let connection = exchange.connection
        let authority = exchange.request.authority
        if case .discovered(let destination, let key) = self.source {
            destination.use(now: now)
            switch destination.state {
            case .endpoints:
                // Explicit mode names the destination by its authority; transparent mode keeps the request's own.
                return try connection.resources.endpoints.pick(
                    destination, key: key, authority: connection.destination == nil ? key : authority ?? key, avoiding: failed, now: now
                )
            case .noEndpoints(exists: true):
                throw ProxyError(.noEndpoints, "\(key) has no endpoints")
            case .noEndpoints(exists: false), .pending:
                // Discovery does not know the name (or did not answer in time): routed as without it.
                break
            }
        }
        let resources = connection.resources
        let target = try connection.router.requestTarget(
            authority: authority, connectionDestination: connection.destination, pick: { resources.pick($0) }
        )
        return ChosenEndpoint(target: target, labels: [], load: nil)
    }
}

@available(*, unavailable)
extension Balancer: Sendable {}
