import NIOCore
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
    /// The queued events, framed as gRPC messages: what the reader writes as it is.
    public private(set) var queue = ByteBuffer()
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

    /// Queues an event of `size` bytes, which `write` writes, or drops it when the queue is full. A drop is reported
    /// by a `Dropped` event with the count, queued ahead of the next event there is room for.
    public mutating func enqueue(size: Int, _ write: (inout ProtobufCursor) -> Void) -> Enqueued {
        guard !self.isCancelled else { return .dropped }
        let needed = self.droppedPending > 0 ? 2 : 1
        guard self.queued + needed <= self.capacity else {
            self.droppedPending += 1
            self.droppedTotal += 1
            return .dropped
        }
        let wasEmpty = self.queued == 0
        if self.droppedPending > 0 {
            let dropped = TapEventEncoder.Dropped(self.droppedPending)
            self.frame(size: dropped.size) { dropped.write(to: &$0) }
            self.droppedPending = 0
        }
        self.frame(size: size, write)
        return wasEmpty ? .wake : .queued
    }

    /// Queues `event` (a drop as `enqueue(size:_:)`).
    public mutating func enqueue(_ event: some TapEventMessage) -> Enqueued {
        self.enqueue(size: event.size) { event.write(to: &$0) }
    }

    /// One gRPC message: not compressed, its length (big-endian), then the event, written into room made for
    /// exactly that.
    private mutating func frame(size: Int, _ write: (inout ProtobufCursor) -> Void) {
        if self.queue.capacity == 0 { self.queue = ByteBufferAllocator().buffer(capacity: max(self.lastDrained, 4096)) }
        self.queue.writeWithUnsafeMutableBytes(minimumWritableBytes: size + 5) { room in
            let start = room.baseAddress!
            var cursor = ProtobufCursor(start)
            cursor.byte(0)
            cursor.bigEndian(UInt32(size))
            write(&cursor)
            precondition(cursor.pointer == start + size + 5, "a tap event wrote other than its size")
            return size + 5
        }
        self.queued += 1
    }

    /// A tapped request (or connection) ended: its last event is queued.
    public mutating func ended() {
        self.open = max(self.open - 1, 0)
    }

    /// Everything queued, framed, for the reader to write; the queue is empty after.
    public mutating func drain() -> ByteBuffer {
        defer {
            self.lastDrained = self.queue.readableBytes
            self.queue = ByteBuffer()
            self.queued = 0
        }
        return self.queue
    }

    /// Every request it will take was taken and has ended: once drained, the stream ends.
    public var isComplete: Bool { self.remaining == 0 && self.open == 0 }

    public mutating func cancel() {
        self.isCancelled = true
        self.queue = ByteBuffer()
        self.queued = 0
    }
}
