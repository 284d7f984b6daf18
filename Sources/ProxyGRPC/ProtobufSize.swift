/// The encoded size of Protocol Buffers fields, computed before they are written, so that a message whose size is
/// known can be written by a `ProtobufCursor` into room made once — no length to fix up afterwards, no capacity
/// checked per byte (as protoc's C++ computes `ByteSizeLong` before `Serialize`). The rules match `ProtobufWriter`'s:
/// `…Field` is 0 for a default value (proto3), `…Always` is for `oneof` members.
public enum ProtobufSize {
    @inlinable @inline(__always)
    public static func varint(_ value: UInt64) -> Int {
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }

    @inlinable @inline(__always)
    public static func tag(_ field: Int) -> Int {
        Self.varint(UInt64(field) << 3)
    }

    @inlinable @inline(__always)
    public static func varintField(_ field: Int, _ value: UInt64) -> Int {
        value == 0 ? 0 : Self.tag(field) + Self.varint(value)
    }

    @inlinable @inline(__always)
    public static func varintAlways(_ field: Int, _ value: UInt64) -> Int {
        Self.tag(field) + Self.varint(value)
    }

    @inlinable @inline(__always)
    public static func bytesField(_ field: Int, count: Int) -> Int {
        count == 0 ? 0 : Self.tag(field) + Self.varint(UInt64(count)) + count
    }

    @inlinable @inline(__always)
    public static func stringField(_ field: Int, _ value: String) -> Int {
        Self.bytesField(field, count: value.utf8.count)
    }

    /// A nested message of `body` bytes: on the wire even when empty.
    @inlinable @inline(__always)
    public static func messageField(_ field: Int, body: Int) -> Int {
        Self.tag(field) + Self.varint(UInt64(body)) + body
    }
}
