import ProxyGRPC

/// One open tap's bookkeeping, pure (the clock is given): how many requests it may still take, its one-second rate
/// window, and its bounded queue of encoded events, with the drops it must report. `TapStream` keeps it under a
/// lock, shared by the event loops whose requests it taps.
///
/// The queue is the bytes the reader will send: each event is encoded straight into it as a gRPC message (a flag
/// byte, a 4-byte length, the event), so an event costs no buffer of its own and the reader writes the batch as it is.
public struct TapStreamState: Sendable {
    /// Requests (and connections) it may still take.
    public private(set) var remaining: Int
    /// Taken and not ended: the stream ends when none is left and `remaining` is 0.
    public private(set) var open = 0
    let maxPerSecond: Int
    private var windowStart: Int64?
    private var inWindow = 0
    let capacity: Int
    /// The queued events, framed as gRPC messages.
    public private(set) var queue = ProtobufWriter(capacity: 0)
    /// Events in `queue`.
    public private(set) var queued = 0
    /// The size of the last batch drained: the next queue starts that large, so that it rarely grows (and copies).
    private var lastDrained = 0
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

    /// Queues an event (`encode` writes it), or drops it when the queue is full. A drop is reported by an event
    /// `dropped` writes, with the count, queued ahead of the next event there is room for.
    public mutating func enqueue(
        _ encode: (inout ProtobufWriter) -> Void, dropped: (Int, inout ProtobufWriter) -> Void
    ) -> Enqueued {
        guard !self.isCancelled else { return .dropped }
        let needed = self.droppedPending > 0 ? 2 : 1
        guard self.queued + needed <= self.capacity else {
            self.droppedPending += 1
            self.droppedTotal += 1
            return .dropped
        }
        let wasEmpty = self.queued == 0
        if self.droppedPending > 0 {
            let count = self.droppedPending
            self.frame { dropped(count, &$0) }
            self.droppedPending = 0
        }
        self.frame(encode)
        return wasEmpty ? .wake : .queued
    }

    /// One gRPC message: not compressed, its length (big-endian), then what `encode` writes.
    private mutating func frame(_ encode: (inout ProtobufWriter) -> Void) {
        if self.queue.bytes.capacity == 0 { self.queue.reserveCapacity(max(self.lastDrained, 4096)) }
        for _ in 0..<5 { self.queue.bytes.append(0) }
        let start = self.queue.bytes.count
        encode(&self.queue)
        let length = UInt32(self.queue.bytes.count - start)
        for index in 0..<4 { self.queue.bytes[start - 4 + index] = UInt8(truncatingIfNeeded: length >> UInt32(24 - 8 * index)) }
        self.queued += 1
    }

    /// A tapped request (or connection) ended: its last event is queued.
    public mutating func ended() {
        self.open = max(self.open - 1, 0)
    }

    /// Everything queued, framed, for the reader to write; the queue is empty after.
    public mutating func drain() -> [UInt8] {
        defer {
            self.lastDrained = self.queue.bytes.count
            self.queue = ProtobufWriter(capacity: 0)
            self.queued = 0
        }
        return self.queue.bytes
    }

    /// Every request it will take was taken and has ended: once drained, the stream ends.
    public var isComplete: Bool { self.remaining == 0 && self.open == 0 }

    public mutating func cancel() {
        self.isCancelled = true
        self.queue = ProtobufWriter(capacity: 0)
        self.queued = 0
    }
}
