import NIOConcurrencyHelpers
import NIOCore
import ProxyGRPC

/// One open tap (an `Observe` stream), shared by the event loops whose requests it taps: its state under a lock,
/// and how to wake its reader. Taking the lock happens only for requests a tap looks at.
public final class TapStream: Sendable {
    public let request: TapObserveRequest
    /// The request asked for headers (read per event; kept apart so that reading it copies nothing).
    public let wantsHeaders: Bool
    /// The request's match, kept apart for the same reason.
    public let match: TapMatch
    /// It has no match (every request): nothing to evaluate, no subject to make.
    public let matchesEverything: Bool
    /// A lock-box rather than `Mutex`: an event is written into the queue under the lock, which `Mutex.withLock`'s
    /// `sending` rules make awkward.
    private let state: NIOLockedValueBox<TapStreamState>
    /// Told, outside the lock, when events wait in a queue that was empty: the reader drains it on its own loop.
    private let wake: @Sendable () -> Void
    private let hub: TapHub

    init(request: TapObserveRequest, capacity: Int, hub: TapHub, wake: @escaping @Sendable () -> Void) {
        self.request = request
        self.wantsHeaders = request.headers
        self.match = request.match
        self.matchesEverything = request.match == .everything
        self.state = NIOLockedValueBox(TapStreamState(limit: request.limit, maxPerSecond: request.maxRPS, capacity: capacity))
        self.hub = hub
        self.wake = wake
    }

    /// Takes one more request if the limit and the rate allow.
    public func admit(now: Int64) -> Bool {
        self.state.withLockedValue { $0.admit(now: now) }
    }

    /// Queues one event of `size` bytes, which `write` writes (or counts it dropped, the queue being full);
    /// `ending`: it is its request's last, which ends the request in the same turn of the lock.
    public func emit(size: Int, ending: Bool = false, _ write: (inout ProtobufCursor) -> Void) {
        let (result, complete) = self.state.withLockedValue { state in
            let result = state.enqueue(size: size, write)
            guard ending else { return (result, false) }
            state.ended()
            return (result, state.isComplete && state.queued == 0)
        }
        switch result {
        case .wake: self.wake()
        case .queued: break
        case .dropped:
            self.hub.countDropped()
            if complete { self.wake() }
        }
    }

    /// Queues `event` (as `emit(size:ending:_:)`).
    public func emit(_ event: borrowing TapEvent, ending: Bool = false) {
        self.emit(size: event.size, ending: ending) { event.write(to: &$0) }
    }

    /// What the reader writes now, and whether the stream is over after it.
    public func drain() -> (events: ByteBuffer, complete: Bool) {
        self.state.withLockedValue { state in
            let events = state.drain()
            return (events, state.isComplete)
        }
    }

    /// Events dropped over the stream's life.
    public var dropped: Int { self.state.withLockedValue { $0.droppedTotal } }

    /// The reader is gone: the stream takes nothing more.
    public func cancel() {
        self.state.withLockedValue { $0.cancel() }
        self.hub.close(self)
    }
}
