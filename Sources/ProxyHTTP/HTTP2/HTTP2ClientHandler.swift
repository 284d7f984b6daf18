import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyCore
import ProxyTransport

/// The upstream edge for HTTP/2: one multiplexed connection per endpoint and loop, each exchange a stream on it,
/// written and read as frames (no stream channel, no conversion to HTTP/1 parts). gRPC and the proxy-to-proxy leg
/// inside mTLS take this path.
final class HTTP2ClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let key: UpstreamKey
    /// Weak: a connection can outlive its loop's pool at shutdown (a peer's `GOAWAY` arriving after the pool went).
    weak var pool: HTTP2ConnectionPool?
    let writer: HTTP2FrameWriter
    var streams: [HTTP2StreamID: HTTP2ClientStream] = [:]
    var batch = HTTP2ReadBatch<HTTP2ClientStream>()
    var nextStreamID = HTTP2StreamID(1)
    /// The server sent `GOAWAY`, or the connection closed: no new streams.
    var goingAway = false
    /// Streams opened so far: after the first, a stream is on a reused connection.
    var opened = 0

    init(key: UpstreamKey, pool: HTTP2ConnectionPool, flusher: FlushBatcher) {
        self.key = key
        self.pool = pool
        self.writer = HTTP2FrameWriter(flusher: flusher)
    }
    /// The connection preface went out: streams may be opened. (A connect promise succeeds before `channelActive`
    /// reaches the HTTP/2 handler, so the connect's completion is too early to write the first stream.)
    var ready = false
    /// Stream identifiers end at 2^31; well before, the connection is retired.
    var canOpenStream: Bool {
        self.ready && !self.goingAway && (self.writer.context?.channel.isActive ?? false) && Int(self.nextStreamID) < Int(Int32.max) - 2
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.writer.attach(context)
        if context.channel.isActive { self.connectionActive() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.connectionActive()
        context.fireChannelActive()
    }

    private func connectionActive() {
        guard self.writer.connectionActive() else { return }
        self.ready = true
        self.pool?.connectionReady(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.writer.detach()
    }

    func makeStream() -> HTTP2ClientStream {
        let stream = HTTP2ClientStream(id: self.nextStreamID, handler: self, reused: self.opened > 0)
        self.nextStreamID = HTTP2StreamID(Int32(self.nextStreamID) + 2)
        self.opened += 1
        self.streams[stream.id] = stream
        return stream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            guard let stream = self.streams[frame.streamID] else { return }
            stream.receivedHeaders(headers)
            self.batch.touch(stream)
        case .data(let data):
            guard let stream = self.streams[frame.streamID] else { return }
            stream.receivedData(data)
            self.batch.touch(stream)
        case .rstStream(let code):
            self.streams[frame.streamID]?.reset(code)
        case .goAway(let lastStreamID, _, _):
            self.goingAway = true
            self.pool?.retire(self)
            // Streams the server never saw were not processed: they fail as refused, and may go elsewhere.
            for (id, stream) in self.streams where id > lastStreamID { stream.reset(.refusedStream) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.batch.end { $0.exchange?.responseReadComplete() }
        self.writer.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            self.streams.removeValue(forKey: closed.streamID)?.closed(closed.reason)
        case let window as NIOHTTP2WindowUpdatedEvent:
            self.writer.windowUpdated(window)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for stream in self.streams.values { stream.becameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.goingAway = true
        self.pool?.retire(self)
        let streams = self.streams
        self.streams = [:]
        for stream in streams.values { stream.failed(ProxyError(.connectionReset, "the HTTP/2 connection to \(self.key) closed")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            self.streams[streamError.streamID]?.failed(ProxyError(.upstreamProtocol, "HTTP/2 stream error: \(streamError.baseError)"))
            return
        }
        context.close(promise: nil)
    }

    func close() {
        self.writer.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2ClientHandler: Sendable {}
