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
    /// A lock-box rather than `Mutex`: an event is encoded into the queue under the lock by a closure that reads
    /// the request, which `Mutex.withLock`'s `sending` rules refuse.
    private let state: NIOLockedValueBox<TapStreamState>
    /// Told, outside the lock, when events wait in a queue that was empty: the reader drains it on its own loop.
    private let wake: @Sendable () -> Void
    private let hub: TapHub

    init(request: TapObserveRequest, capacity: Int, hub: TapHub, wake: @escaping @Sendable () -> Void) {
        self.request = request
        self.wantsHeaders = request.headers
        self.match = request.match
        self.state = NIOLockedValueBox(TapStreamState(limit: request.limit, maxPerSecond: request.maxRPS, capacity: capacity))
        self.hub = hub
        self.wake = wake
    }

    /// Takes one more request if the limit and the rate allow.
    public func admit(now: Int64) -> Bool {
        self.state.withLockedValue { $0.admit(now: now) }
    }

    /// Queues one event, `encode` writing it into the queue (or counts it dropped, the queue being full).
    public func emit(_ encode: (inout ProtobufWriter) -> Void) {
        let result = self.state.withLockedValue { $0.enqueue(encode, dropped: TapEventEncoder.dropped) }
        switch result {
        case .wake: self.wake()
        case .queued: break
        case .dropped: self.hub.countDropped()
        }
    }

    /// A tapped request ended (its last event was emitted): the reader may end the stream.
    public func ended() {
        let complete = self.state.withLockedValue {
            $0.ended()
            return $0.isComplete && $0.queued == 0
        }
        if complete { self.wake() }
    }

    /// What the reader writes now, and whether the stream is over after it.
    public func drain() -> (events: [UInt8], complete: Bool) {
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
