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
        let result = self.accept()
        guard result != .dropped else { return result }
        var cursor = self.room(size)
        let end = cursor.pointer + size
        write(&cursor)
        self.commit(cursor, end: end, size: size)
        return result
    }

    /// Queues `event` (a drop as `enqueue(size:_:)`), written in place: no closure, which would copy the event
    /// into its context.
    public mutating func enqueue(_ event: borrowing TapEvent) -> Enqueued {
        let result = self.accept()
        guard result != .dropped else { return result }
        let size = event.size
        var cursor = self.room(size)
        let end = cursor.pointer + size
        event.write(to: &cursor)
        self.commit(cursor, end: end, size: size)
        return result
    }

    /// Queues `event` (a drop as `enqueue(size:_:)`).
    public mutating func enqueue(_ event: some TapEventMessage) -> Enqueued {
        self.enqueue(size: event.size) { event.write(to: &$0) }
    }

    /// Whether one more event fits, counting it dropped when not; a pending report of drops is queued first.
    private mutating func accept() -> Enqueued {
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
            var cursor = self.room(dropped.size)
            let end = cursor.pointer + dropped.size
            dropped.write(to: &cursor)
            self.commit(cursor, end: end, size: dropped.size)
            self.droppedPending = 0
        }
        return wasEmpty ? .wake : .queued
    }

    /// Room for one gRPC message of `size` bytes at the queue's end, its prefix written (not compressed, the length
    /// big-endian): a cursor for the event's bytes, which `commit` then takes.
    private mutating func room(_ size: Int) -> ProtobufCursor {
        if self.queue.capacity == 0 { self.queue = ByteBufferAllocator().buffer(capacity: max(self.lastDrained, 4096)) }
        if self.queue.writableBytes < size + 5 { self.queue.reserveCapacity(minimumWritableBytes: size + 5) }
        // The storage's pointer, offset by hand (`writeWithUnsafeMutableBytes` slices and rebases a buffer pointer
        // per call) and used past the closure: the queue is this state's alone, made unique by that call, and is
        // not touched again until `commit` moves its writer index.
        let start = self.queue.withVeryUnsafeMutableBytes { $0.baseAddress! } + self.queue.writerIndex
        var cursor = ProtobufCursor(start)
        cursor.byte(0)
        cursor.bigEndian(UInt32(size))
        return cursor
    }

    /// The message of `size` bytes `room` made room for is written (the cursor is at `end`): it is queued.
    private mutating func commit(_ cursor: ProtobufCursor, end: UnsafeMutableRawPointer, size: Int) {
        precondition(cursor.pointer == end, "a tap event wrote other than its size")
        self.queue.moveWriterIndex(forwardBy: size + 5)
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
