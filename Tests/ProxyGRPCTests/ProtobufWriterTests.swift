import NIOCore
import ProxyGRPC
import SwiftProtobuf
import SwiftletAPI
import Testing

/// Nested messages written in place: the bytes SwiftProtobuf writes, whether the length fits one byte or not.
struct ProtobufWriterTests {
    @Test(arguments: [1, 10, 120, 126, 127, 300, 20_000])
    func nestedMessagesAreWhatSwiftProtobufWrites(valueLength: Int) throws {
        let value = String(repeating: "v", count: valueLength)
        let expected = Swiftlet_Tap_V1_TapEvent.with {
            $0.routeMeta = .with { $0.labels = ["route": value] }
            $0.proxyDirection = .outbound
        }
        var writer = ProtobufWriter()
        writer.write(6, varint: 2)
        writer.writeMessage(7) { meta in
            meta.writeMessage(1) { entry in
                entry.write(1, string: "route")
                entry.write(2, string: value)
            }
        }
        let ours = Array(writer.buffer.readableBytesView)
        let decoded = try Swiftlet_Tap_V1_TapEvent(serializedBytes: ours)
        #expect(decoded == expected)
        #expect(ours.count == (try expected.serializedBytes() as [UInt8]).count, "no byte more than the canonical encoding")
    }
}
