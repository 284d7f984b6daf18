import NIOCore

/// Reads Protocol Buffers binary encoding field by field. Input comes from the network: every length is checked
/// against what is there, and anything malformed is an error, never a trap. Unknown fields are skipped, as the
/// protobuf rules ask, so the controller may add fields.
public struct ProtobufReader {
    public enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case lengthDelimited(ByteBuffer)
        case fixed32(UInt32)

        /// The value of a `string` field; invalid UTF-8 is repaired rather than refused (labels, names).
        public var string: String {
            get throws(ProtobufError) {
                guard case .lengthDelimited(let bytes) = self else { throw ProtobufError("expected a length-delimited field") }
                return String(decoding: bytes.readableBytesView, as: UTF8.self)
            }
        }

        public var bytes: ByteBuffer {
            get throws(ProtobufError) {
                guard case .lengthDelimited(let bytes) = self else { throw ProtobufError("expected a length-delimited field") }
                return bytes
            }
        }

        public var uint64: UInt64 {
            get throws(ProtobufError) {
                guard case .varint(let value) = self else { throw ProtobufError("expected a varint field") }
                return value
            }
        }

        public var uint32: UInt32 {
            get throws(ProtobufError) { UInt32(truncatingIfNeeded: try self.uint64) }
        }

        public var int64: Int64 {
            get throws(ProtobufError) { Int64(bitPattern: try self.uint64) }
        }

        public var bool: Bool {
            get throws(ProtobufError) { try self.uint64 != 0 }
        }

        public var double: Double {
            get throws(ProtobufError) {
                guard case .fixed64(let bits) = self else { throw ProtobufError("expected a 64-bit field") }
                return Double(bitPattern: bits)
            }
        }

        /// A `repeated` varint field's values from one occurrence: packed (proto3's default) or not.
        public var packedVarints: [UInt64] {
            get throws(ProtobufError) {
                switch self {
                case .varint(let value): return [value]
                case .lengthDelimited(let bytes):
                    var reader = ProtobufReader(bytes)
                    var values: [UInt64] = []
                    while reader.buffer.readableBytes > 0 { values.append(try reader.readVarint()) }
                    return values
                default: throw ProtobufError("expected varints")
                }
            }
        }
    }

    private var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// The next field, or `nil` at the end of the message.
    public mutating func next() throws(ProtobufError) -> (field: Int, value: Value)? {
        guard self.buffer.readableBytes > 0 else { return nil }
        let tag = try self.readVarint()
        let field = Int(truncatingIfNeeded: tag >> 3)
        guard field > 0, field < 1 << 29 else { throw ProtobufError("invalid field number \(field)") }
        switch tag & 7 {
        case 0:
            return (field, .varint(try self.readVarint()))
        case 1:
            guard let value = self.buffer.readInteger(endianness: .little, as: UInt64.self) else {
                throw ProtobufError("truncated fixed64")
            }
            return (field, .fixed64(value))
        case 2:
            let length = try self.readVarint()
            guard length <= UInt64(self.buffer.readableBytes), let bytes = self.buffer.readSlice(length: Int(length)) else {
                throw ProtobufError("a field of \(length) bytes overruns its message")
            }
            return (field, .lengthDelimited(bytes))
        case 5:
            guard let value = self.buffer.readInteger(endianness: .little, as: UInt32.self) else {
                throw ProtobufError("truncated fixed32")
            }
            return (field, .fixed32(value))
        default:
            throw ProtobufError("unsupported wire type \(tag & 7)")
        }
    }

    mutating func readVarint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = self.buffer.readInteger(as: UInt8.self) else { throw ProtobufError("truncated varint") }
            guard shift < 64 else { throw ProtobufError("varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
}

/// A message that could not be decoded.
public struct ProtobufError: Error, CustomStringConvertible, Hashable {
    public var description: String

    public init(_ description: String) {
        self.description = "malformed protobuf: \(description)"
    }
}
