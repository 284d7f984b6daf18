/// One open tap's bookkeeping, pure (the clock is given): how many requests it may still take, its one-second rate
/// window, and its bounded queue of encoded events, with the drops it must report. `TapStream` keeps it under a
/// lock, shared by the event loops whose requests it taps.
public struct TapStreamState<Event> {
    /// Requests (and connections) it may still take.
    public private(set) var remaining: Int
    /// Taken and not ended: the stream ends when none is left and `remaining` is 0.
    public private(set) var open = 0
    let maxPerSecond: Int
    private var windowStart: Int64?
    private var inWindow = 0
    let capacity: Int
    public private(set) var queue: [Event] = []
    /// Dropped since the last report.
    public private(set) var droppedPending = 0
    /// Dropped over the stream's life.
    public private(set) var droppedTotal = 0
    /// The reader stopped (cancelled, or the connection closed): nothing more is taken.
    public private(set) var isCancelled = false

    public init(limit: Int, maxPerSecond: Int, capacity: Int) {
        self.remaining = limit
        self.maxPerSecond = maxPerSecond
        self.capacity = max(capacity, 2)
    }

    /// Takes one more request if the limit and the rate allow.
    public mutating func admit(now: Int64) -> Bool {
        guard !self.isCancelled, self.remaining > 0 else { return false }
        if self.maxPerSecond > 0 {
            if let start = self.windowStart, now - start < 1_000_000_000 {
                guard self.inWindow < self.maxPerSecond else { return false }
            } else {
                self.windowStart = now
                self.inWindow = 0
            }
            self.inWindow += 1
        }
        self.remaining -= 1
        self.open += 1
        return true
    }

    public enum Enqueued: Equatable {
        /// The queue was empty: the reader must be woken.
        case wake
        case queued
        case dropped
    }

    /// Queues an event, or drops it when the queue is full. A drop is reported by a `dropped(count)` event queued
    /// ahead of the next event there is room for.
    public mutating func enqueue(_ event: Event, dropped: (Int) -> Event) -> Enqueued {
        guard !self.isCancelled else { return .dropped }
        let needed = self.droppedPending > 0 ? 2 : 1
        guard self.queue.count + needed <= self.capacity else {
            self.droppedPending += 1
            self.droppedTotal += 1
            return .dropped
        }
        let wasEmpty = self.queue.isEmpty
        if self.droppedPending > 0 {
            self.queue.append(dropped(self.droppedPending))
            self.droppedPending = 0
        }
        self.queue.append(event)
        return wasEmpty ? .wake : .queued
    }

    /// A tapped request (or connection) ended: its last event is queued.
    public mutating func ended() {
        self.open = max(self.open - 1, 0)
    }

    /// Everything queued, for the reader to write; the queue is empty after.
    public mutating func drain() -> [Event] {
        defer { self.queue.removeAll(keepingCapacity: true) }
        return self.queue
    }

    /// Every request it will take was taken and has ended: once drained, the stream ends.
    public var isComplete: Bool { self.remaining == 0 && self.open == 0 }

    public mutating func cancel() {
        self.isCancelled = true
        self.queue.removeAll()
    }
}
