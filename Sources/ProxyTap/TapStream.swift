import NIOConcurrencyHelpers
import NIOCore
import ProxyGRPC

/// One open tap (an `Observe` stream), shared by the event loops whose requests it taps: its state under a lock,
/// and how to wake its reader. Taking the lock happens only for requests a tap looks at.
public final class TapStream: @unchecked Sendable {
    public let request: TapObserveRequest
    /// The request asked for headers (read per event; kept apart so that reading it copies nothing).
    public let wantsHeaders: Bool
    /// The request's match, kept apart for the same reason.
    public let match: TapMatch
    /// It has no match (every request): nothing to evaluate, no subject to make.
    public let matchesEverything: Bool
    /// `state` is read and written only with `lock` held (what makes this class Sendable). A lock and a variable
    /// rather than `Mutex` or a lock-box: an event is written into the queue under the lock, and a closure for
    /// `withLock` copied each event into its context (`Mutex`'s `sending` rules too); `emit` takes no closure.
    private let lock = NIOLock()
    private nonisolated(unsafe) var state: TapStreamState
    /// Told, outside the lock, when events wait in a queue that was empty: the reader drains it on its own loop.
    private let wake: @Sendable () -> Void
    private let hub: TapHub

    init(request: TapObserveRequest, capacity: Int, hub: TapHub, wake: @escaping @Sendable () -> Void) {
        self.request = request
        self.wantsHeaders = request.headers
        self.match = request.match
        self.matchesEverything = request.match == .everything
        self.state = TapStreamState(limit: request.limit, maxPerSecond: request.maxRPS, capacity: capacity)
        self.hub = hub
        self.wake = wake
    }

    /// Takes one more request if the limit and the rate allow.
    public func admit(now: Int64) -> Bool {
        self.lock.withLock { self.state.admit(now: now) }
    }

    /// Queues one event of `size` bytes, which `write` writes (or counts it dropped, the queue being full);
    /// `ending`: it is its request's last, which ends the request in the same turn of the lock.
    public func emit(size: Int, ending: Bool = false, _ write: (inout ProtobufCursor) -> Void) {
        self.lock.lock()
        let result = self.state.enqueue(size: size, write)
        let complete = ending && self.ended()
        self.lock.unlock()
        self.after(result, complete: complete)
    }

    /// Queues `event` (as `emit(size:ending:_:)`).
    public func emit(_ event: borrowing TapEvent, ending: Bool = false) {
        self.lock.lock()
        let result = self.state.enqueue(event)
        let complete = ending && self.ended()
        self.lock.unlock()
        self.after(result, complete: complete)
    }

    /// Ends a request, the lock held: whether the stream is complete with nothing left to write.
    private func ended() -> Bool {
        self.state.ended()
        return self.state.isComplete && self.state.queued == 0
    }

    /// What follows an event's queueing, outside the lock: the reader woken for a first event (or for a stream
    /// complete with its last event dropped), a drop counted.
    private func after(_ result: TapStreamState.Enqueued, complete: Bool) {
        switch result {
        case .wake: self.wake()
        case .queued: break
        case .dropped:
            self.hub.countDropped()
            if complete { self.wake() }
        }
    }

    /// What the reader writes now, and whether the stream is over after it.
    public func drain() -> (events: ByteBuffer, complete: Bool) {
        self.lock.withLock { (self.state.drain(), self.state.isComplete) }
    }

    /// Events dropped over the stream's life.
    public var dropped: Int { self.lock.withLock { self.state.droppedTotal } }

    /// The reader is gone: the stream takes nothing more.
    public func cancel() {
        self.lock.withLock { self.state.cancel() }
        self.hub.close(self)
    }
}
