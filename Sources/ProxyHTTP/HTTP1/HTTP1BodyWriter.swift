import NIOCore
import ProxyCore

/// Writes a body part on an HTTP/1 connection: the slice as it arrived, framed as a chunk when the length was not
/// known (a chunk header, the slice, CRLF: one vectored write, the slice never copied).
enum HTTP1BodyWriter {
    static let crlf = ByteBuffer(string: "\r\n")

    static func write(_ bytes: ByteBuffer, chunked: Bool, to context: ChannelHandlerContext) {
        guard bytes.readableBytes > 0 else { return }
        guard chunked else {
            context.write(NIOAny(bytes), promise: nil)
            return
        }
        var header = context.channel.allocator.buffer(capacity: 12)
        HTTP1Serializer.writeChunkHeader(bytes.readableBytes, into: &header)
        context.write(NIOAny(header), promise: nil)
        context.write(NIOAny(bytes), promise: nil)
        context.write(NIOAny(Self.crlf), promise: nil)
    }

    /// The last chunk, and the trailers (HTTP/1 carries them only in a chunked body).
    static func writeEnd(_ trailers: HTTPFields?, to context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        HTTP1Serializer.writeLastChunk(trailers: trailers, into: &buffer)
        context.write(NIOAny(buffer), promise: nil)
    }
}
