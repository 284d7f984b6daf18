import Synchronization

/// Whether the proxy should receive traffic: once the listeners are bound and, with an identity, once it holds a
/// certificate; no longer when draining.
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)
    /// What else must hold (a certificate in force), with the reason given while it does not.
    private let condition: (@Sendable () -> Bool, reason: String)?

    init(condition: (@Sendable () -> Bool, reason: String)? = nil) {
        self.condition = condition
    }

    var isReady: Bool { self.ready.load(ordering: .relaxed) && (self.condition?.0() ?? true) }

    /// Why the proxy is not ready, for `/ready`'s body.
    var reason: String {
        if !self.ready.load(ordering: .relaxed) { return "not ready" }
        if let condition = self.condition, !condition.0() { return "not ready: \(condition.reason)" }
        return "ready"
    }

    func set(_ value: Bool) { self.ready.store(value, ordering: .relaxed) }
}
