import NIOCore

/// Splits gRPC's length-prefixed messages (a compression flag, a 4-byte big-endian length, the message) out of
/// DATA frames, which may cut a message anywhere. Pure: fed bytes, gives whole messages.
public struct GRPCMessageDeframer {
    /// Larger messages are refused: a controller's answer is small, and the bound keeps a bad peer from making the
    /// proxy buffer without end. gRPC's own default limit is 4 MiB.
    public static let maximumMessageSize = 4 * 1024 * 1024

    private var pending: ByteBuffer?

    public init() {}

    public mutating func append(_ bytes: ByteBuffer) {
        if self.pending == nil || self.pending!.readableBytes == 0 {
            self.pending = bytes
        } else {
            var bytes = bytes
            self.pending!.writeBuffer(&bytes)
        }
    }

    /// The next whole message, if one has arrived.
    public mutating func next() throws(GRPCStatusError) -> ByteBuffer? {
        guard var pending = self.pending, pending.readableBytes >= 5 else { return nil }
        let flag = pending.getInteger(at: pending.readerIndex, as: UInt8.self)!
        let length = Int(pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self)!)
        guard flag == 0 else { throw GRPCStatusError(.internalError, "the server sent a compressed message, which was not asked for") }
        guard length <= Self.maximumMessageSize else {
            throw GRPCStatusError(.resourceExhausted, "a message of \(length) bytes is over the limit of \(Self.maximumMessageSize)")
        }
        guard pending.readableBytes >= 5 + length else { return nil }
        pending.moveReaderIndex(forwardBy: 5)
        let message = pending.readSlice(length: length)!
        self.pending = pending
        return message
    }

    /// Bytes of an unfinished message are left: the stream ended in the middle of one.
    public var isEmpty: Bool { (self.pending?.readableBytes ?? 0) == 0 }

    /// Frames `message` for sending.
    public static func frame(_ message: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var framed = allocator.buffer(capacity: 5 + message.readableBytes)
        framed.writeInteger(UInt8(0))
        framed.writeInteger(UInt32(message.readableBytes))
        framed.writeImmutableBuffer(message)
        return framed
    }
}
