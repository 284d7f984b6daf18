import NIOCore

/// The last body part of a forwarded HTTP/2 stream, held back until it is known whether the body ends with it.
///
/// The exchange model says "body part" and then "end" as two events (an HTTP/1 body ends when its length is reached,
/// after its last bytes were delivered); HTTP/2 says both in one frame, `END_STREAM` on the last `DATA`. Writing each
/// part at once cost every response with a body one more frame through NIOHTTP2 and onto the wire: an empty `DATA`
/// carrying only `END_STREAM`. A held part goes out with the end, before trailers, or at the next flush.
struct HTTP2HeldData {
    private var held: ByteBuffer?

    /// Holds `bytes`; returns the part held before, which must be written now (without `END_STREAM`).
    mutating func hold(_ bytes: ByteBuffer) -> ByteBuffer? {
        defer { self.held = bytes }
        return self.held
    }

    /// The held part, if any, to be written now.
    mutating func take() -> ByteBuffer? {
        defer { self.held = nil }
        return self.held
    }
}
