import MeshModel
import Synchronization

/// One endpoint's circuit breaker, shared by every event loop's balancer: an endpoint is ejected after
/// `maxFailures` failures in a row as the whole proxy saw them, not once per loop.
public final class SharedEndpointAccrual: Sendable {
    private let accrual: Mutex<EndpointAccrual>

    public init(_ settings: FailureAccrual) {
        self.accrual = Mutex(EndpointAccrual(settings))
    }

    public var settings: FailureAccrual { self.accrual.withLock { $0.settings } }
    public var state: EndpointAccrual.State { self.accrual.withLock { $0.state } }

    /// Whether a balancer may pick the endpoint now (an ejected endpoint whose penalty ran out goes on probation).
    public func isAvailable(now: Int64) -> Bool {
        self.accrual.withLock { $0.isAvailable(now: now) }
    }

    public func dispatched() {
        self.accrual.withLock { $0.dispatched() }
    }

    public func released() {
        self.accrual.withLock { $0.released() }
    }

    public func record(failed: Bool, now: Int64) {
        self.accrual.withLock { accrual in
            if failed {
                var random = SystemRandomNumberGenerator()
                accrual.failed(now: now, using: &random)
            } else {
                accrual.succeeded()
            }
        }
    }
}

/// The circuit breakers of a proxy, by balancer scope (a parent Service port and one of its backends) and endpoint:
/// the loops' balancers of one backend share them.
public final class AccrualBoard: Sendable {
    private struct Key: Hashable {
        var scope: String
        var endpoint: HostPort
    }

    private let cells = Mutex<[Key: SharedEndpointAccrual]>([:])
    /// Endpoints come and go; past this many breakers the board starts afresh (every endpoint healthy again).
    static let maximum = 16_384

    public init() {}

    /// The breaker of `endpoint` in `scope`, with `settings` (a new one when the settings changed).
    public func accrual(scope: String, endpoint: HostPort, settings: FailureAccrual) -> SharedEndpointAccrual {
        self.cells.withLock { cells in
            let key = Key(scope: scope, endpoint: endpoint)
            if let known = cells[key], known.settings == settings { return known }
            if cells.count >= Self.maximum { cells = [:] }
            let created = SharedEndpointAccrual(settings)
            cells[key] = created
            return created
        }
    }
}
