import NIOCore
import NIOEmbedded
import ProxyCore
import ProxyTransport
import Testing

@Suite struct ProtocolDetectionHandlerTests {
    /// Records what the detection handler decided and what bytes reached the next handler.
    final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var received = ByteBuffer()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = Self.unwrapInboundIn(data)
            self.received.writeBuffer(&bytes)
        }
    }

    func makeChannel(timeout: TimeAmount = .seconds(10)) throws -> (EmbeddedChannel, Sink, () -> DetectedProtocol?) {
        let channel = EmbeddedChannel()
        let sink = Sink()
        var detected: DetectedProtocol? = nil
        let handler = ProtocolDetectionHandler(timeout: timeout) { context, proto in
            detected = proto
            try context.pipeline.syncOperations.addHandler(sink)
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        return (channel, sink, { detected })
    }

    @Test func passesEveryPeekedByteOnAfterDetectingHTTP1() throws {
        let (channel, sink, detected) = try self.makeChannel()
        try channel.writeInbound(ByteBuffer(string: "GET /a HT"))
        #expect(detected() == nil)
        try channel.writeInbound(ByteBuffer(string: "TP/1.1\r\nHost: x\r\n\r\n"))
        #expect(detected() == .http1)
        #expect(String(buffer: sink.received) == "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        // Later bytes flow straight through.
        try channel.writeInbound(ByteBuffer(string: "more"))
        #expect(String(buffer: sink.received).hasSuffix("more"))
        #expect(try channel.finish().isClean)
    }

    @Test func aSilentClientBecomesOpaqueWhenTheTimeoutExpires() throws {
        let (channel, _, detected) = try self.makeChannel(timeout: .seconds(10))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(detected() == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(detected() == .opaque)
        #expect(try channel.finish().isClean)
    }

    @Test func aClientThatHalfClosesEarlyIsDecidedAtOnce() throws {
        let (channel, sink, detected) = try self.makeChannel()
        try channel.writeInbound(ByteBuffer(string: "GE"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(detected() == .opaque)
        #expect(String(buffer: sink.received) == "GE")
        _ = try channel.finish()
    }

    /// Nothing to forward and nothing more to come: no relay is opened for it, the connection just closes.
    @Test func aClientThatLeavesWithoutSendingAByteIsClosedNotRelayed() throws {
        let (channel, sink, detected) = try self.makeChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(detected() == nil)
        #expect(sink.received.readableBytes == 0)
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }
}
