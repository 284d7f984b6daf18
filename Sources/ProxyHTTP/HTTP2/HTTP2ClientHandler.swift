import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyCore
import ProxyTransport

/// The upstream edge for HTTP/2: one multiplexed connection per endpoint and loop, each exchange a stream on it,
/// written and read as frames (no stream channel, no conversion to HTTP/1 parts). gRPC and the proxy-to-proxy leg
/// inside mTLS take this path.
final class HTTP2ClientHandler: ChannelDuplexHandler, RemovableChannelHandler, Flushable {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let key: UpstreamKey
    /// Weak: a connection can outlive its loop's pool at shutdown (a peer's `GOAWAY` arriving after the pool went).
    weak var pool: HTTP2ConnectionPool?
    var context: ChannelHandlerContext?
    var streams: [HTTP2StreamID: HTTP2ClientStream] = [:]
    var touched: [HTTP2ClientStream] = []
    var nextStreamID = HTTP2StreamID(1)
    /// The server sent `GOAWAY`, or the connection closed: no new streams.
    var goingAway = false
    /// Streams opened so far: after the first, a stream is on a reused connection.
    var opened = 0

    let flusher: FlushBatcher

    init(key: UpstreamKey, pool: HTTP2ConnectionPool, flusher: FlushBatcher) {
        self.key = key
        self.pool = pool
        self.flusher = flusher
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    /// The connection preface went out: streams may be opened. (A connect promise succeeds before `channelActive`
    /// reaches the HTTP/2 handler, so the connect's completion is too early to write the first stream.)
    var ready = false
    /// Stream identifiers end at 2^31; well before, the connection is retired.
    var canOpenStream: Bool { self.ready && !self.goingAway && (self.context?.channel.isActive ?? false) && Int(self.nextStreamID) < Int(Int32.max) - 2 }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.openConnectionWindow(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.openConnectionWindow(context: context)
        context.fireChannelActive()
    }

    private var windowOpened = false

    private func openConnectionWindow(context: ChannelHandlerContext) {
        guard !self.windowOpened else { return }
        self.windowOpened = true
        context.writeAndFlush(Self.wrapOutboundOut(HTTP2ConnectionWindow.opening), promise: nil)
        self.ready = true
        self.pool?.connectionReady(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
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
            self.touch(stream)
        case .data(let data):
            guard let stream = self.streams[frame.streamID] else { return }
            stream.receivedData(data)
            self.touch(stream)
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

    private func touch(_ stream: HTTP2ClientStream) {
        if !stream.touched {
            stream.touched = true
            self.touched.append(stream)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for stream in self.touched {
            stream.touched = false
            stream.exchange?.responseReadComplete()
        }
        self.touched.removeAll(keepingCapacity: true)
        self.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            self.streams.removeValue(forKey: closed.streamID)?.closed(closed.reason)
        case let window as NIOHTTP2WindowUpdatedEvent:
            if let update = HTTP2ConnectionWindow.update(after: window) { context.writeAndFlush(Self.wrapOutboundOut(update), promise: nil) }
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

    func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>? = nil) {
        self.context?.write(Self.wrapOutboundOut(frame), promise: promise)
    }

    /// Flushes at the end of this loop iteration, once for every stream that wrote.
    func flush() {
        guard !self.flushRequested, self.context != nil else { return }
        self.flushRequested = true
        self.flusher.enqueue(self)
    }

    var flushRequested = false

    func flushNow() {
        self.flushRequested = false
        self.context?.flush()
    }

    func close() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2ClientHandler: Sendable {}

/// One stream of an upstream HTTP/2 connection, as its exchange's upstream.
final class HTTP2ClientStream: ExchangeUpstream, HTTP2BodySender {
    let id: HTTP2StreamID
    unowned let handler: HTTP2ClientHandler
    let isReused: Bool
    var exchange: Exchange?
    var flow = HTTP2FlowAccounting()
    var requestOpen = true
    var responseOpen = true
    /// The request's `HEADERS` went out (the stream exists for the server).
    var started = false
    var finalHeadSeen = false
    var touched = false
    var heldData = HTTP2HeldData()

    init(id: HTTP2StreamID, handler: HTTP2ClientHandler, reused: Bool) {
        self.id = id
        self.handler = handler
        self.isReused = reused
    }

    var isWritable: Bool { self.handler.isWritable && self.flow.isBelowWatermark }

    func attach(_ exchange: Exchange) {
        self.exchange = exchange
    }

    func writeRequestHead(_ head: HTTPRequestHead, endStream: Bool) {
        self.started = true
        let headers = head.fields.hpackRequest(method: head.method, scheme: head.scheme ?? "http", authority: head.authority, path: head.path)
        if endStream { self.requestOpen = false }
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: endStream))))
    }

    func writeRequestBody(_ bytes: ByteBuffer) {
        guard self.requestOpen, bytes.readableBytes > 0 else { return }
        self.sendBody(bytes)
    }

    func writeRequestEnd(_ trailers: HTTPFields?) {
        guard self.requestOpen else { return }
        self.requestOpen = false
        self.sendEnd(trailers)
        self.handler.flush()
    }

    func flushRequest() {
        self.sendHeld()
        self.handler.flush()
    }

    // MARK: HTTP2BodySender

    var eventLoop: EventLoop? { self.handler.context?.eventLoop }

    func writeFrame(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?) {
        self.handler.write(frame, promise: promise)
    }

    func sendingConfirmed() {
        if self.isWritable { self.exchange?.upstreamWritable() }
    }

    func pauseResponse(_ paused: Bool) {
        guard paused != self.flow.receivePaused else { return }
        self.flow.receivePaused = paused
        if !paused, let credit = self.flow.creditDue(window: HTTP2Tuning.streamWindow) {
            self.giveBack(credit)
            self.handler.flush()
        }
    }

    func release(reusable: Bool) {
        self.exchange = nil
        guard self.started else {
            self.handler.streams.removeValue(forKey: self.id)
            return
        }
        if self.requestOpen || self.responseOpen {
            // Abandoned half-way (the client went away, a timeout, an early response): the server stops.
            self.requestOpen = false
            self.responseOpen = false
            self.handler.write(HTTP2Frame(streamID: self.id, payload: .rstStream(.cancel)))
            self.handler.flush()
        }
    }

    func joinTunnel(_ glue: GlueHandler) -> Bool { false }

    // MARK: frames from the server

    func receivedHeaders(_ payload: HTTP2Frame.FramePayload.Headers) {
        guard let exchange = self.exchange else { return }
        if self.finalHeadSeen {
            self.responseOpen = false
            exchange.responseEndReceived(HTTPFields(payload.headers))
            return
        }
        let status = payload.headers.first(name: ":status").flatMap { Int($0) } ?? 0
        let head = HTTPResponseHead(status: status, version: .http2, fields: HTTPFields(payload.headers))
        if !head.isInformational { self.finalHeadSeen = true }
        if payload.endStream { self.responseOpen = false }
        exchange.responseHeadReceived(head, endStream: payload.endStream)
    }

    func receivedData(_ data: HTTP2Frame.FramePayload.Data) {
        if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 {
            self.exchange?.responseBodyReceived(bytes)
        }
        if let credit = self.flow.received(data.flowControlledLength, window: HTTP2Tuning.streamWindow) { self.giveBack(credit) }
        if data.endStream {
            self.responseOpen = false
            self.exchange?.responseEndReceived(nil)
        }
    }

    private func giveBack(_ credit: Int) {
        guard self.responseOpen else { return }
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .windowUpdate(windowSizeIncrement: credit)))
    }

    func becameWritable() {
        if self.isWritable { self.exchange?.upstreamWritable() }
    }

    func reset(_ code: HTTP2ErrorCode) {
        self.requestOpen = false
        self.responseOpen = false
        let error =
            code == .refusedStream
            ? ProxyError(.upstreamFailed, "the server refused the stream (it was not processed)")
            : ProxyError(.connectionReset, "the server reset the stream (\(code))")
        self.failed(error)
    }

    /// The stream closed: normally once both sides ended (the exchange has the whole response by then), otherwise a
    /// failure.
    func closed(_ reason: HTTP2ErrorCode?) {
        self.requestOpen = false
        let wasOpen = self.responseOpen
        self.responseOpen = false
        if wasOpen, self.exchange != nil {
            self.failed(ProxyError(.connectionReset, "the HTTP/2 stream closed\(reason.map { " (\($0))" } ?? "") before the response ended"))
        }
    }

    func failed(_ error: ProxyError) {
        guard let exchange = self.exchange else { return }
        self.exchange = nil
        exchange.upstreamFailed(error)
    }
}

@available(*, unavailable)
extension HTTP2ClientStream: Sendable {}

