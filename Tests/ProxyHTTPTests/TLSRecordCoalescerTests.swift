import NIOCore
import NIOEmbedded
import ProxyTransport
import Testing

/// What reaches the TLS handler decides how many records go out: one write is one record.
@Suite struct TLSRecordCoalescerTests {
    func makeChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(TLSRecordCoalescer())
        return channel
    }

    func outbound(_ channel: EmbeddedChannel) throws -> [String] {
        var writes: [String] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let bytes) = data else { Issue.record("a file region came out"); continue }
            writes.append(String(buffer: bytes))
        }
        return writes
    }

    @Test func smallWritesBetweenTwoFlushesLeaveAsOne() throws {
        let channel = try self.makeChannel()
        for part in ["frame-header", "payload", "another-frame"] {
            channel.write(IOData.byteBuffer(ByteBuffer(string: part)), promise: nil)
        }
        #expect(try self.outbound(channel).isEmpty, "nothing goes on before the flush")
        channel.flush()
        #expect(try self.outbound(channel) == ["frame-headerpayloadanother-frame"])
        // The next round starts empty (the buffer is reused, not appended to).
        channel.writeAndFlush(IOData.byteBuffer(ByteBuffer(string: "next")), promise: nil)
        #expect(try self.outbound(channel) == ["next"])
        #expect(try channel.finish().isClean)
    }

    @Test func everyWritersPromiseCompletesWhenTheGatheredWriteDoes() throws {
        let channel = try self.makeChannel()
        let promises = (0..<3).map { _ in channel.eventLoop.makePromise(of: Void.self) }
        var completed = 0
        for (index, promise) in promises.enumerated() {
            promise.futureResult.whenSuccess { completed += 1 }
            channel.write(IOData.byteBuffer(ByteBuffer(string: "\(index)")), promise: promise)
        }
        #expect(completed == 0)
        channel.flush()
        #expect(completed == 3)
        #expect(try self.outbound(channel) == ["012"])
        #expect(try channel.finish().isClean)
    }

    @Test func aLargeWriteKeepsItsPlaceAndIsNotCopied() throws {
        let channel = try self.makeChannel()
        let large = String(repeating: "L", count: 64 * 1024)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "before")), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: large)), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "after")), promise: nil)
        channel.flush()
        #expect(try self.outbound(channel) == ["before", large, "after"])
        #expect(try channel.finish().isClean)
    }

    @Test func aGatheredBufferNeverPassesOneRecord() throws {
        let channel = try self.makeChannel()
        let part = String(repeating: "p", count: 3000)
        for _ in 0..<12 { channel.write(IOData.byteBuffer(ByteBuffer(string: part)), promise: nil) }
        channel.flush()
        let writes = try self.outbound(channel)
        #expect(writes.joined() == String(repeating: part, count: 12))
        #expect(writes.allSatisfy { $0.utf8.count <= 16 * 1024 })
        #expect(writes.count == 3)
        #expect(try channel.finish().isClean)
    }

    /// Sees, in order, what reaches the TLS handler's place: writes and closes.
    final class Recorder: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        var events: [String] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .byteBuffer(let bytes) = Self.unwrapOutboundIn(data) { self.events.append("write \(String(buffer: bytes))") }
            context.write(data, promise: promise)
        }
        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            self.events.append("close")
            promise?.succeed(())
        }
    }

    @Test func whatWasWrittenGoesBeforeAClose() throws {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(TLSRecordCoalescer())
        channel.write(IOData.byteBuffer(ByteBuffer(string: "last response")), promise: nil)
        channel.close(mode: .output, promise: nil)
        #expect(recorder.events == ["write last response", "close"])
    }
}
