import NIOCore
import ProxyGRPC
import Testing

/// gRPC's length-prefixed messages come out whole however the DATA frames cut them.
struct GRPCMessageDeframerTests {
    @Test func messagesComeOutWholeWhereverTheFramesCutThem() throws {
        let allocator = ByteBufferAllocator()
        let messages = [ByteBuffer(string: "first"), ByteBuffer(), ByteBuffer(string: String(repeating: "x", count: 70_000))]
        var wire = ByteBuffer()
        for message in messages { wire.writeImmutableBuffer(GRPCMessageDeframer.frame(message, allocator: allocator)) }
        for cut in [1, 2, 3, 5, 7, 1000, wire.readableBytes] {
            var deframer = GRPCMessageDeframer()
            var received: [ByteBuffer] = []
            var rest = wire
            while let chunk = rest.readSlice(length: min(cut, rest.readableBytes)), chunk.readableBytes > 0 {
                deframer.append(chunk)
                while let message = try deframer.next() { received.append(message) }
            }
            #expect(received == messages)
            #expect(deframer.isEmpty)
        }
    }

    @Test func anOversizedOrCompressedMessageIsRefused() {
        var deframer = GRPCMessageDeframer()
        var huge = ByteBuffer()
        huge.writeInteger(UInt8(0))
        huge.writeInteger(UInt32(GRPCMessageDeframer.maximumMessageSize + 1))
        deframer.append(huge)
        #expect(throws: GRPCStatusError.self) { try deframer.next() }
        var compressed = GRPCMessageDeframer()
        compressed.append(ByteBuffer(bytes: [1, 0, 0, 0, 1, 0]))
        #expect(throws: GRPCStatusError.self) { try compressed.next() }
    }
}
