import NIOCore
import Synchronization

/// What discovery knows of one authority, shared by every event loop.
///
/// Discovery publishes into it; loops read it. A loop keeps its own balancer and checks `version` (an atomic
/// load) on each request, re-reading the endpoints under the lock only when they changed.
public final class DestinationEntry: Sendable {
    public enum State: Hashable, Sendable {
        /// No answer yet.
        case pending
        case endpoints([DiscoveredEndpoint])
        /// Discovery answered: no endpoints. When `exists` is false the authority is not the mesh's, and other
        /// resolvers (static table, DNS) take over.
        case noEndpoints(exists: Bool)
    }

    public let authority: String
    private let versionCounter = Atomic<UInt64>(0)
    private let evicted = Atomic<Bool>(false)
    private let lastUsedNanoseconds: Atomic<UInt64>
    private let state = Mutex<(state: State, waiters: [@Sendable () -> Void])>((.pending, []))

    public init(authority: String, now: UInt64 = NIODeadline.now().uptimeNanoseconds) {
        self.authority = authority
        self.lastUsedNanoseconds = Atomic(now)
    }

    /// Changes with every publication; 0 until the first.
    public var version: UInt64 { self.versionCounter.load(ordering: .acquiring) }
    public var current: State { self.state.withLock { $0.state } }
    public var lastUsed: UInt64 { self.lastUsedNanoseconds.load(ordering: .relaxed) }

    /// Discovery stopped following it (unused too long); loops drop their balancer and ask again.
    public var isEvicted: Bool { self.evicted.load(ordering: .relaxed) }

    public func evict() {
        self.evicted.store(true, ordering: .relaxed)
    }

    public func touch(now: UInt64) {
        self.lastUsedNanoseconds.store(now, ordering: .relaxed)
    }

    public func publish(_ next: State) {
        let waiters: [@Sendable () -> Void] = self.state.withLock { state in
            state.state = next
            defer { state.waiters = [] }
            return state.waiters
        }
        self.versionCounter.add(1, ordering: .releasing)
        for waiter in waiters { waiter() }
    }

    /// Calls `body` once the first answer is in (at once, on the caller's thread, if it already is).
    public func whenAnswered(_ body: @escaping @Sendable () -> Void) {
        let answered: Bool = self.state.withLock { state in
            if state.state != .pending { return true }
            state.waiters.append(body)
            return false
        }
        if answered { body() }
    }
}

/// Discovery as the data plane sees it: an entry per authority, created (and its discovery started) on first use.
public protocol DestinationLookup: Sendable {
    /// The entry of `authority` (lower-case `host:port`).
    func entry(for authority: String) -> DestinationEntry
}
