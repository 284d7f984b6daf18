import NIOCore

/// Protocol Buffers binary encoding of the few messages the proxy sends, written by hand so that the proxy links no
/// protobuf runtime (DESIGN §3: the proxy's gRPC clients are small codecs over NIOHTTP2).
///
/// Fields are written in the order the caller gives, which callers keep ascending as protoc-generated code does, so
/// the bytes equal swift-protobuf's (the tests compare them). Proto3 rules: `write…` skips a default value;
/// `write…Always` is for members of a `oneof`, which are on the wire even when they hold the default.
public struct ProtobufWriter {
    public private(set) var buffer: ByteBuffer

    public init(allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.buffer = allocator.buffer(capacity: 64)
    }

    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    mutating func writeTag(_ field: Int, _ type: WireType) {
        self.writeVarint(UInt64(field) << 3 | type.rawValue)
    }

    public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.buffer.writeInteger(UInt8(value))
    }

    public mutating func write(_ field: Int, varint value: UInt64) {
        guard value != 0 else { return }
        self.writeAlways(field, varint: value)
    }

    public mutating func writeAlways(_ field: Int, varint value: UInt64) {
        self.writeTag(field, .varint)
        self.writeVarint(value)
    }

    public mutating func write(_ field: Int, bool value: Bool) {
        self.write(field, varint: value ? 1 : 0)
    }

    public mutating func write(_ field: Int, string value: String) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.utf8.count))
        self.buffer.writeString(value)
    }

    /// Two strings as one field (`no_identity:` and the reason), without joining them first.
    public mutating func write(_ field: Int, string first: String, _ second: String) {
        guard !first.isEmpty || !second.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(first.utf8.count + second.utf8.count))
        self.buffer.writeString(first)
        self.buffer.writeString(second)
    }

    /// Room for `bytes` more, so that a message of a known rough size grows its buffer once.
    public mutating func reserveCapacity(_ bytes: Int) {
        self.buffer.reserveCapacity(self.buffer.writerIndex + bytes)
    }

    /// A part of a string, written without making a `String` of it.
    public mutating func write(_ field: Int, string value: Substring) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.utf8.count))
        self.buffer.writeSubstring(value)
    }

    public mutating func write(_ field: Int, bytes value: some Collection<UInt8>) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.count))
        self.buffer.writeBytes(value)
    }

    /// A nested message, present even when empty (a message field that is set is always on the wire).
    ///
    /// Written in place, behind a one-byte length filled in afterwards: no buffer of its own per nested message (a
    /// tap event has a dozen). A body of 128 bytes or more, rare, is moved up to make room for its longer length.
    public mutating func writeMessage(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        self.writeTag(field, .lengthDelimited)
        let lengthAt = self.buffer.writerIndex
        self.buffer.writeInteger(UInt8(0))
        let start = self.buffer.writerIndex
        body(&self)
        let length = self.buffer.writerIndex - start
        if length < 0x80 {
            self.buffer.setInteger(UInt8(length), at: lengthAt)
        } else {
            let bytes = self.buffer.getBytes(at: start, length: length) ?? []
            self.buffer.moveWriterIndex(to: lengthAt)
            self.writeVarint(UInt64(length))
            self.buffer.writeBytes(bytes)
        }
    }

    /// A `fixed32` member of a `oneof` (on the wire even when 0).
    public mutating func writeAlways(_ field: Int, fixed32 value: UInt32) {
        self.writeTag(field, .fixed32)
        self.buffer.writeInteger(value, endianness: .little)
    }

    public mutating func write(_ field: Int, fixed64 value: UInt64) {
        guard value != 0 else { return }
        self.writeTag(field, .fixed64)
        self.buffer.writeInteger(value, endianness: .little)
    }

    /// A nested message already encoded.
    public mutating func write(_ field: Int, message: ByteBuffer) {
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(message.readableBytes))
        self.buffer.writeImmutableBuffer(message)
    }

    /// Bytes already encoded as fields of this message (fields may come in any order on the wire).
    public mutating func append(_ fields: ByteBuffer) {
        self.buffer.writeImmutableBuffer(fields)
    }
}
