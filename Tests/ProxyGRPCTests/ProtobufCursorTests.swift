import ProxyGRPC
import SwiftProtobuf
import SwiftletAPI
import Testing

/// Sized first, then written through a raw cursor: exactly the bytes SwiftProtobuf writes, and exactly the size
/// computed, at every varint and length boundary.
struct ProtobufCursorTests {
    @Test(arguments: [0, 1, 127, 128, 16_383, 16_384, 1 << 35, UInt64.max])
    func varintsAndNestedLengthsAreSizedAndWrittenAsSwiftProtobufDoes(value: UInt64) throws {
        let text = String(repeating: "p", count: Int(value % 300) + 1)
        let expected = Swiftlet_Tap_V1_TapEvent.with {
            $0.http.responseEnd = .with {
                $0.id = .with { $0.stream = value }
                $0.responseBytes = value
            }
            $0.routeMeta = .with { $0.labels = ["route": text] }
        }
        let id = ProtobufSize.varintField(2, value)
        let end = ProtobufSize.messageField(1, body: id) + ProtobufSize.varintField(4, value)
        let http = ProtobufSize.messageField(3, body: end)
        let entry = ProtobufSize.stringField(1, "route") + ProtobufSize.stringField(2, text)
        let route = ProtobufSize.messageField(1, body: entry)
        let size = ProtobufSize.messageField(3, body: http) + ProtobufSize.messageField(7, body: route)
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var cursor = ProtobufCursor(UnsafeMutableRawPointer(buffer.baseAddress!))
            cursor.message(3, body: http)
            cursor.message(3, body: end)
            cursor.message(1, body: id)
            cursor.write(2, varint: value)
            cursor.write(4, varint: value)
            cursor.message(7, body: route)
            cursor.message(1, body: entry)
            cursor.write(1, string: "route")
            cursor.write(2, string: text)
            #expect(cursor.pointer == UnsafeMutableRawPointer(buffer.baseAddress!) + size, "written as sized")
            count = size
        }
        #expect(bytes == (try expected.serializedBytes() as [UInt8]))
    }
}
