/// Writes Protocol Buffers fields through a raw pointer into room made beforehand for exactly their size
/// (`ProtobufSize`): each byte is one store, with no capacity or uniqueness check and no length to patch, which
/// `ProtobufWriter` pays per byte. For messages written often on the request path (tap events); the caller makes
/// the room, and checks that what was written is what was sized.
///
/// Same field rules as `ProtobufWriter`: `write…` skips a default value, `write…Always` is for `oneof` members.
public struct ProtobufCursor {
    /// Where the next byte goes.
    public var pointer: UnsafeMutableRawPointer

    @inlinable
    public init(_ pointer: UnsafeMutableRawPointer) {
        self.pointer = pointer
    }

    @inlinable @inline(__always)
    public mutating func byte(_ value: UInt8) {
        self.pointer.storeBytes(of: value, as: UInt8.self)
        self.pointer += 1
    }

    @inlinable @inline(__always)
    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.byte(UInt8(value))
    }

    @inlinable @inline(__always)
    mutating func tag(_ field: Int, _ wireType: UInt64) {
        self.varint(UInt64(field) << 3 | wireType)
    }

    @inlinable @inline(__always)
    public mutating func write(_ field: Int, varint value: UInt64) {
        guard value != 0 else { return }
        self.writeAlways(field, varint: value)
    }

    @inlinable @inline(__always)
    public mutating func writeAlways(_ field: Int, varint value: UInt64) {
        self.tag(field, 0)
        self.varint(value)
    }

    @inlinable @inline(__always)
    public mutating func writeAlways(_ field: Int, fixed32 value: UInt32) {
        self.tag(field, 5)
        self.pointer.storeBytes(of: value.littleEndian, toByteOffset: 0, as: UInt32.self)
        self.pointer += 4
    }

    @inlinable @inline(__always)
    public mutating func write(_ field: Int, fixed64 value: UInt64) {
        guard value != 0 else { return }
        self.tag(field, 1)
        self.pointer.storeBytes(of: value.littleEndian, toByteOffset: 0, as: UInt64.self)
        self.pointer += 8
    }

    /// A gRPC message's length, as its 5-byte prefix carries it (big-endian).
    @inlinable @inline(__always)
    public mutating func bigEndian(_ value: UInt32) {
        self.pointer.storeBytes(of: value.bigEndian, toByteOffset: 0, as: UInt32.self)
        self.pointer += 4
    }

    /// The tag and length of a nested message of `body` bytes; the caller writes the body next.
    @inlinable @inline(__always)
    public mutating func message(_ field: Int, body: Int) {
        self.tag(field, 2)
        self.varint(UInt64(body))
    }

    @inlinable
    public mutating func write(_ field: Int, string value: String) {
        guard !value.isEmpty else { return }
        var value = value
        value.withUTF8 { self.write(field, bytes: UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public mutating func write(_ field: Int, bytes value: UnsafeRawBufferPointer) {
        guard !value.isEmpty else { return }
        self.tag(field, 2)
        self.varint(UInt64(value.count))
        self.raw(value)
    }

    /// Bytes already encoded (fields of this message, or a whole message's body).
    @inlinable @inline(__always)
    public mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        self.pointer.copyMemory(from: base, byteCount: bytes.count)
        self.pointer += bytes.count
    }

    @inlinable @inline(__always)
    public mutating func raw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.raw($0) }
    }
}
