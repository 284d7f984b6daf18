import NIOCore
import ProxyCore

/// What an HTTP/1 connection is about to write, gathered into one buffer: a head and the small body parts and chunk
/// framing after it go out as one write (one `write(2)`, one entry in NIO's pending writes) instead of one each. A
/// large part is not copied: what was gathered is written, then the part as the slice it arrived in.
///
/// Pure: it hands back what to write, and the handler writes it once the mutation is over (a write can re-enter the
/// handler, through writability, before it returns).
struct HTTP1Output {
    /// Parts up to this size are copied into the gathered buffer.
    static let copyLimit = 16 * 1024
    /// Gathered bytes are written once they reach this much, so copying never holds more than this.
    static let gatherLimit = 64 * 1024
    static let crlf = ByteBuffer(string: "\r\n")

    /// Buffers to write now, in order.
    struct Writes {
        var first: ByteBuffer?
        var second: ByteBuffer?
    }

    private var gathered: ByteBuffer?

    /// Nothing gathered waits to be written.
    var isEmpty: Bool { self.gathered == nil }

    /// A buffer to write a head into, after what is already gathered; give it back with `gather`.
    mutating func takeBuffer(_ allocator: ByteBufferAllocator, capacity: Int = 512) -> ByteBuffer {
        if let buffer = self.gathered {
            self.gathered = nil
            return buffer
        }
        return allocator.buffer(capacity: capacity)
    }

    mutating func gather(_ buffer: ByteBuffer) {
        self.gathered = buffer
    }

    /// A body part, framed as a chunk when the length was not known.
    mutating func body(_ bytes: ByteBuffer, chunked: Bool, allocator: ByteBufferAllocator) -> Writes {
        guard bytes.readableBytes > 0 else { return Writes() }
        var writes = Writes()
        if let gathered = self.gathered, gathered.readableBytes + bytes.readableBytes > Self.gatherLimit {
            writes.first = gathered
            self.gathered = nil
        }
        if bytes.readableBytes <= Self.copyLimit {
            var buffer = self.takeBuffer(allocator, capacity: bytes.readableBytes + 16)
            if chunked { HTTP1Serializer.writeChunkHeader(bytes.readableBytes, into: &buffer) }
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            if chunked { buffer.writeStaticString("\r\n") }
            self.gathered = buffer
            return writes
        }
        // Large: what was gathered (with the chunk header), then the slice itself; the chunk's CRLF is gathered.
        var head = self.gathered
        self.gathered = nil
        if chunked {
            var buffer = head ?? allocator.buffer(capacity: 12)
            HTTP1Serializer.writeChunkHeader(bytes.readableBytes, into: &buffer)
            head = buffer
            self.gathered = Self.crlf
        }
        if let head {
            if writes.first == nil { writes.first = head } else { writes.first!.writeImmutableBuffer(head) }
        }
        writes.second = bytes
        return writes
    }

    /// The last chunk, and the trailers (HTTP/1 carries them only in a chunked body).
    mutating func end(_ trailers: HTTPFields?, allocator: ByteBufferAllocator) {
        var buffer = self.takeBuffer(allocator, capacity: 64)
        HTTP1Serializer.writeLastChunk(trailers: trailers, into: &buffer)
        self.gathered = buffer
    }

    /// What was gathered, to be written now.
    mutating func take() -> ByteBuffer? {
        defer { self.gathered = nil }
        return self.gathered
    }
}

extension ChannelHandlerContext {
    func write(_ writes: HTTP1Output.Writes) {
        if let first = writes.first { self.write(NIOAny(first), promise: nil) }
        if let second = writes.second { self.write(NIOAny(second), promise: nil) }
    }
}
