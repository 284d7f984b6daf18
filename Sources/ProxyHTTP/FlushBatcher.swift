import NIOCore

/// Something with writes waiting for a flush.
protocol Flushable: AnyObject {
    func flushNow()
}

/// Flushes each connection once per event-loop iteration, however many exchanges wrote to it.
///
/// An HTTP/2 connection carries many streams, and one read from an upstream can complete dozens of them; flushing
/// the downstream for each was a `writev` per request. Connections ask for a flush here instead, and the batcher
/// flushes them all in one task that runs after the loop has handled every ready socket of this iteration.
final class FlushBatcher {
    private let eventLoop: EventLoop
    private var pending: [any Flushable] = []
    private var scheduled = false

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// `target` asked for a flush; call only when it was not already waiting for one.
    func enqueue(_ target: any Flushable) {
        self.pending.append(target)
        guard !self.scheduled else { return }
        self.scheduled = true
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.execute { bound.value.flushAll() }
    }

    private func flushAll() {
        self.scheduled = false
        var batch = self.pending
        self.pending = []
        for target in batch { target.flushNow() }
        batch.removeAll(keepingCapacity: true)
        if self.pending.isEmpty { self.pending = batch }
    }
}

@available(*, unavailable)
extension FlushBatcher: Sendable {}
