import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyCore

/// The downstream edge for HTTP/2: frames in, one exchange per stream, responses back as frames. It sits directly
/// on the connection's HTTP/2 handler (no stream channels, no conversion to HTTP/1 parts), so a stream costs an
/// entry in a dictionary and an exchange.
///
/// It gives flow-control windows back itself (see `HTTP2FlowAccounting`): the connection's as NIO's multiplexer
/// would, a stream's as its exchange forwards the bytes. When the proxy drains or the client half-closes, it sends
/// `GOAWAY` and closes once the last stream is done.
final class HTTP2ServerHandler: ChannelDuplexHandler, RemovableChannelHandler, Flushable {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let connection: HTTPConnection
    var context: ChannelHandlerContext?
    var streams: [HTTP2StreamID: HTTP2ServerStream] = [:]
    /// Streams that received something in the current read, to flush their upstreams once at its end.
    var touched: [HTTP2ServerStream] = []
    var highestStreamID = HTTP2StreamID.rootStream
    var quiescing = false
    var closed = false

    let flusher: FlushBatcher

    init(connection: HTTPConnection) {
        self.connection = connection
        self.flusher = connection.resources.flusher
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }

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
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let stream = self.streams[frame.streamID] {
                stream.receivedTrailers(headers.headers)
                self.touch(stream)
            } else {
                self.openStream(frame.streamID, headers)
            }
        case .data(let data):
            guard let stream = self.streams[frame.streamID] else { return }
            stream.receivedData(data)
            self.touch(stream)
        case .rstStream:
            self.streams[frame.streamID]?.resetByClient()
        case .goAway:
            self.quiesce()
        default:
            break
        }
    }

    private func touch(_ stream: HTTP2ServerStream) {
        if !stream.touched {
            stream.touched = true
            self.touched.append(stream)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for stream in self.touched {
            stream.touched = false
            stream.exchange?.requestReadComplete()
        }
        self.touched.removeAll(keepingCapacity: true)
        self.flush()
    }

    private func openStream(_ id: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload.Headers) {
        let headers = payload.headers
        let stream = HTTP2ServerStream(id: id, handler: self)
        self.streams[id] = stream
        if id > self.highestStreamID { self.highestStreamID = id }
        var method = ""
        var scheme: String? = nil
        var authority: String? = nil
        var path = ""
        for field in headers {
            guard field.name.utf8.first == UInt8(ascii: ":") else { break }
            switch field.name {
            case ":method": method = field.value
            case ":scheme": scheme = field.value
            case ":authority": authority = field.value
            case ":path": path = field.value
            default: break
            }
        }
        var fields = HTTPFields(headers)
        if authority == nil, let host = fields.first("host") { authority = host }
        let body: BodyFraming
        if payload.endStream {
            body = .none
        } else if let length = fields.first("content-length").flatMap({ Int($0) }) {
            body = .length(length)
        } else {
            body = .stream
        }
        if method == "CONNECT" {
            // Extended CONNECT (WebSockets over HTTP/2) is not relayed.
            fields = HTTPFields()
            stream.refuse()
            return
        }
        let head = HTTPRequestHead(method: method, scheme: scheme, authority: authority, path: path, version: .http2, fields: fields)
        let exchange = Exchange(connection: self.connection, downstream: stream, head: head, body: body, upgrade: false)
        stream.exchange = exchange
        exchange.start()
        if payload.endStream {
            stream.requestOpen = false
            stream.exchange?.requestEndReceived(nil)
        } else {
            self.touch(stream)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            self.streams.removeValue(forKey: closed.streamID)?.streamClosed()
            if self.quiescing, self.streams.isEmpty { self.close() }
        case let window as NIOHTTP2WindowUpdatedEvent:
            if let update = HTTP2ConnectionWindow.update(after: window) { context.writeAndFlush(Self.wrapOutboundOut(update), promise: nil) }
        case is ChannelShouldQuiesceEvent:
            self.quiesce()
        case ChannelEvent.inputClosed:
            // A FIN or close_notify from the client: it sends nothing more. Finish what is open, then close.
            self.quiesce()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Stops taking new streams (`GOAWAY` with the last one seen) and closes once the open ones are done.
    func quiesce() {
        guard !self.quiescing, let context = self.context else { return }
        self.quiescing = true
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: self.highestStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(Self.wrapOutboundOut(goAway), promise: nil)
        if self.streams.isEmpty { self.close() }
    }

    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for stream in self.streams.values { stream.becameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        let streams = self.streams
        self.streams = [:]
        for stream in streams.values { stream.streamClosed() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Stream errors (a malformed request on one stream) are the HTTP/2 handler's to answer with RST_STREAM; they
        // reach here after it did. A connection error closes the connection.
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            self.streams[streamError.streamID]?.resetByClient()
            return
        }
        self.close()
    }

    // MARK: writing, for the streams

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
}

@available(*, unavailable)
extension HTTP2ServerHandler: Sendable {}

/// One stream of an HTTP/2 server connection, as its exchange's downstream.
final class HTTP2ServerStream: ExchangeDownstream, HTTP2BodySender {
    let id: HTTP2StreamID
    unowned let handler: HTTP2ServerHandler
    var exchange: Exchange?
    var flow = HTTP2FlowAccounting()
    /// The client has not ended its side.
    var requestOpen = true
    var responseOpen = true
    var touched = false
    var heldData = HTTP2HeldData()

    init(id: HTTP2StreamID, handler: HTTP2ServerHandler) {
        self.id = id
        self.handler = handler
    }

    var isHTTP2: Bool { true }
    var isWritable: Bool { self.handler.isWritable && self.flow.isBelowWatermark }

    func receivedData(_ data: HTTP2Frame.FramePayload.Data) {
        if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 {
            self.exchange?.requestBodyReceived(bytes)
        }
        if let credit = self.flow.received(data.flowControlledLength, window: HTTP2Tuning.streamWindow) { self.giveBack(credit) }
        if data.endStream {
            self.requestOpen = false
            self.exchange?.requestEndReceived(nil)
        }
    }

    func receivedTrailers(_ headers: HPACKHeaders) {
        self.requestOpen = false
        self.exchange?.requestEndReceived(HTTPFields(headers))
    }

    private func giveBack(_ credit: Int) {
        guard self.requestOpen else { return }
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .windowUpdate(windowSizeIncrement: credit)))
    }

    /// The client reset the stream (or sent something the HTTP/2 handler refused on it).
    func resetByClient() {
        self.requestOpen = false
        self.responseOpen = false
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
    }

    /// The stream is closed for both sides: its last frame went (NIO says so while the frame is being written, before
    /// the exchange has finished), or it was reset. Only a close before the response ended means the client is gone.
    func streamClosed() {
        self.requestOpen = false
        guard self.responseOpen else { return }
        self.responseOpen = false
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
    }

    func becameWritable() {
        if self.isWritable { self.exchange?.downstreamWritable() }
    }

    /// A request this proxy does not relay: reset at once.
    func refuse() {
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .rstStream(.refusedStream)))
        self.handler.flush()
    }

    // MARK: ExchangeDownstream

    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {
        guard self.responseOpen else { return }
        let headers = head.fields.hpackResponse(status: head.status)
        if endStream { self.responseOpen = false }
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: endStream))))
        if endStream { self.handler.flush() }
    }

    func writeResponseBody(_ bytes: ByteBuffer) {
        guard self.responseOpen, bytes.readableBytes > 0 else { return }
        self.sendBody(bytes)
    }

    func writeResponseEnd(_ trailers: HTTPFields?) {
        guard self.responseOpen else { return }
        self.responseOpen = false
        self.sendEnd(trailers)
        self.handler.flush()
    }

    func flushResponse() {
        self.sendHeld()
        self.handler.flush()
    }

    // MARK: HTTP2BodySender

    var eventLoop: EventLoop? { self.handler.context?.eventLoop }

    func writeFrame(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?) {
        self.handler.write(frame, promise: promise)
    }

    func sendingConfirmed() {
        if self.isWritable { self.exchange?.downstreamWritable() }
    }

    func pauseRequest(_ paused: Bool) {
        guard paused != self.flow.receivePaused else { return }
        self.flow.receivePaused = paused
        if !paused, let credit = self.flow.creditDue(window: HTTP2Tuning.streamWindow) {
            self.giveBack(credit)
            self.handler.flush()
        }
    }

    func exchangeFinished(requestComplete: Bool) {
        self.exchange = nil
        if self.requestOpen {
            // The response is complete and the request is not: ask the client to stop sending, without error
            // (RFC 9113 §8.1).
            self.requestOpen = false
            self.handler.write(HTTP2Frame(streamID: self.id, payload: .rstStream(.noError)))
            self.handler.flush()
        }
    }

    func abortResponse() {
        self.exchange = nil
        guard self.responseOpen || self.requestOpen else { return }
        self.responseOpen = false
        self.requestOpen = false
        self.handler.write(HTTP2Frame(streamID: self.id, payload: .rstStream(.internalError)))
        self.handler.flush()
    }

    func switchToTunnel(with upstream: any ExchangeUpstream) {
        upstream.release(reusable: false)
        self.abortResponse()
    }
}

@available(*, unavailable)
extension HTTP2ServerStream: Sendable {}
