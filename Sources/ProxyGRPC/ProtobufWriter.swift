import NIOCore

/// Protocol Buffers binary encoding of the few messages the proxy sends, written by hand so that the proxy links no
/// protobuf runtime (DESIGN §3: the proxy's gRPC clients are small codecs over NIOHTTP2).
///
/// Fields are written in the order the caller gives, which callers keep ascending as protoc-generated code does, so
/// the bytes equal swift-protobuf's (the tests compare them). Proto3 rules: `write…` skips a default value;
/// `write…Always` is for members of a `oneof`, which are on the wire even when they hold the default.
public struct ProtobufWriter: Sendable {
    /// The message so far. An array, not a `ByteBuffer`: every `ByteBuffer` write checks capacity and copies through
    /// a generic slice (over a hundred instructions for one byte), which made a tapped request's events cost more
    /// than the request (bench/proxy --instructions --tap); array appends are a bounds check and a store.
    public var bytes: [UInt8]

    @inlinable
    public init(capacity: Int = 64) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    /// The message as a buffer to send.
    @inlinable
    public var buffer: ByteBuffer { ByteBuffer(bytes: self.bytes) }

    @usableFromInline
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    @inlinable @inline(__always)
    mutating func writeTag(_ field: Int, _ type: WireType) {
        self.writeVarint(UInt64(field) << 3 | type.rawValue)
    }

    @inlinable @inline(__always)
    public mutating func writeVarint(_ value: UInt64) {
        if value < 0x80 {
            self.bytes.append(UInt8(value))
            return
        }
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    @inlinable
    public mutating func write(_ field: Int, varint value: UInt64) {
        guard value != 0 else { return }
        self.writeAlways(field, varint: value)
    }

    @inlinable
    public mutating func writeAlways(_ field: Int, varint value: UInt64) {
        self.writeTag(field, .varint)
        self.writeVarint(value)
    }

    @inlinable
    public mutating func write(_ field: Int, bool value: Bool) {
        self.write(field, varint: value ? 1 : 0)
    }

    @inlinable
    public mutating func write(_ field: Int, string value: String) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.utf8.count))
        self.bytes.append(contentsOf: value.utf8)
    }

    /// Two strings as one field (`no_identity:` and the reason), without joining them first.
    @inlinable
    public mutating func write(_ field: Int, string first: String, _ second: String) {
        guard !first.isEmpty || !second.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(first.utf8.count + second.utf8.count))
        self.bytes.append(contentsOf: first.utf8)
        self.bytes.append(contentsOf: second.utf8)
    }

    /// Room for `bytes` more, so that a message of a known rough size grows its storage once.
    @inlinable
    public mutating func reserveCapacity(_ bytes: Int) {
        self.bytes.reserveCapacity(self.bytes.count + bytes)
    }

    /// A part of a string, written without making a `String` of it.
    @inlinable
    public mutating func write(_ field: Int, string value: Substring) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.utf8.count))
        self.bytes.append(contentsOf: value.utf8)
    }

    @inlinable
    public mutating func write(_ field: Int, bytes value: some Collection<UInt8>) {
        guard !value.isEmpty else { return }
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(value.count))
        self.bytes.append(contentsOf: value)
    }

    /// A nested message, present even when empty (a message field that is set is always on the wire).
    ///
    /// Written in place, behind a one-byte length filled in afterwards: no storage of its own per nested message (a
    /// tap event has a dozen). A body of 128 bytes or more, rare, is moved up to make room for its longer length.
    @inlinable
    public mutating func writeMessage(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        self.writeTag(field, .lengthDelimited)
        let lengthAt = self.bytes.count
        self.bytes.append(0)
        body(&self)
        let length = self.bytes.count - lengthAt - 1
        if length < 0x80 {
            self.bytes[lengthAt] = UInt8(length)
        } else {
            var prefix = ProtobufWriter(capacity: 10)
            prefix.writeVarint(UInt64(length))
            self.bytes.replaceSubrange(lengthAt..<lengthAt + 1, with: prefix.bytes)
        }
    }

    /// A `fixed32` member of a `oneof` (on the wire even when 0).
    @inlinable
    public mutating func writeAlways(_ field: Int, fixed32 value: UInt32) {
        self.writeTag(field, .fixed32)
        for shift in stride(from: 0, to: 32, by: 8) { self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    @inlinable
    public mutating func write(_ field: Int, fixed64 value: UInt64) {
        guard value != 0 else { return }
        self.writeTag(field, .fixed64)
        for shift in stride(from: 0, to: 64, by: 8) { self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// A nested message already encoded.
    @inlinable
    public mutating func write(_ field: Int, message: ByteBuffer) {
        self.writeTag(field, .lengthDelimited)
        self.writeVarint(UInt64(message.readableBytes))
        self.bytes.append(contentsOf: message.readableBytesView)
    }

    /// Bytes already encoded as fields of this message (fields may come in any order on the wire).
    @inlinable
    public mutating func append(_ fields: [UInt8]) {
        self.bytes.append(contentsOf: fields)
    }
}
