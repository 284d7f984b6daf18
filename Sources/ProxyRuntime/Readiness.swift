import Synchronization

/// Whether the proxy should receive traffic: set once the listeners are bound, cleared when draining.
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    var isReady: Bool { self.ready.load(ordering: .relaxed) }

    func set(_ value: Bool) { self.ready.store(value, ordering: .relaxed) }
}
