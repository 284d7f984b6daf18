import NIOCore
import Synchronization

/// What a controller stream says of one authority (a destination's endpoints, a Service port's policy): what every
/// event loop reads, shared.
public protocol FollowedState: Sendable {
    /// No answer yet.
    static var pending: Self { get }
    var isPending: Bool { get }
}

/// What the controller knows of one authority, shared by every event loop: the client publishes into it, loops read
/// it. A loop keeps what it built from the state and checks `version` (an atomic load) on each request, re-reading
/// the state under the lock only when it changed.
public final class FollowedEntry<State: FollowedState>: Sendable {
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

    /// The client stopped following it (unused too long); loops drop what they built and ask again.
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
            if !state.state.isPending { return true }
            state.waiters.append(body)
            return false
        }
        if answered { body() }
    }
}
