import NIOCore
import SwiftletAPI

/// Cuts the tap API's response body into events: each a varint length, then that many bytes of a
/// `TapByResourceEvent`. Chunks may split a frame anywhere; a frame longer than 4 MiB is an error, not a wait.
struct TapFrameDecoder {
    private var buffer = ByteBuffer()
    static let maximumFrame = 4 << 20

    mutating func append(_ chunk: ByteBuffer) {
        // What was read goes once per chunk, not once per event: a chunk holds many events.
        self.buffer.discardReadBytes()
        var chunk = chunk
        self.buffer.writeBuffer(&chunk)
    }

    /// The next whole event, or `nil` until more bytes come.
    mutating func next() throws -> Swiftlet_Tap_V1_TapByResourceEvent? {
        var length: UInt64 = 0
        var shift: UInt64 = 0
        var index = self.buffer.readerIndex
        while true {
            guard let byte = self.buffer.getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            length |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 35 else { throw TapStreamError("the tap stream is corrupt (a length runs on)") }
        }
        guard length <= Self.maximumFrame else { throw TapStreamError("the tap stream is corrupt (an event of \(length) bytes)") }
        guard self.buffer.writerIndex - index >= Int(length) else { return nil }
        let bytes = self.buffer.getBytes(at: index, length: Int(length)) ?? []
        self.buffer.moveReaderIndex(to: index + Int(length))
        do {
            return try Swiftlet_Tap_V1_TapByResourceEvent(serializedBytes: bytes)
        } catch {
            throw TapStreamError("the tap stream is corrupt (an event does not decode: \(error))")
        }
    }
}

struct TapStreamError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
