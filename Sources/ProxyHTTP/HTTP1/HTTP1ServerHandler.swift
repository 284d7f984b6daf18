import NIOCore
import ProxyCore
import ProxyTransport

/// The downstream edge for HTTP/1.1: bytes in, exchanges out, and their responses back as bytes. The only handler
/// of an HTTP/1 connection above its transport: requests are parsed straight from the bytes read (`HTTP1Parser`)
/// and responses written in one buffer per head, bodies as the slices they arrived in.
///
/// One exchange at a time: a pipelined request waits, unparsed, until the response before it is complete (reading
/// stops once one is waiting, so a client that pipelines without reading holds one read's worth). A head that does
/// not arrive whole within the header-read timeout closes the connection, so a client trickling bytes cannot hold
/// it for ever.
final class HTTP1ServerHandler: ChannelDuplexHandler, RemovableChannelHandler, ExchangeDownstream {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: HTTPConnection
    let headerReadTimeout: TimeAmount
    var parser = HTTP1Parser(mode: .request)
    var context: ChannelHandlerContext?
    var exchange: Exchange?

    /// A request's head was read and its end not yet.
    var requestInProgress = false
    /// The rest of the current request is read and dropped (its response went out first).
    var discarding = false
    /// The connection stays open after the current exchange.
    var keepAlive = true
    var requestVersion = HTTPVersionNumber.http1_1
    var requestIsHEAD = false
    /// The response being written is chunked (its length was not known).
    var responseChunked = false
    var pendingRead = false
    var requestPaused = false
    var pumping = false
    var closed = false
    var headerTimer: Scheduled<Void>?
    var output = HTTP1Output()

    init(connection: HTTPConnection, headerReadTimeout: TimeAmount) {
        self.connection = connection
        self.headerReadTimeout = headerReadTimeout
    }

    var isHTTP2: Bool { false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.headerTimer?.cancel()
        self.headerTimer = nil
    }

    // MARK: reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.parser.append(Self.unwrapInboundIn(data))
        self.pump()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.exchange?.requestReadComplete()
    }

    /// Parses and delivers what can be delivered now.
    func pump() {
        guard !self.pumping, !self.closed else { return }
        self.pumping = true
        defer {
            self.pumping = false
            self.updateHeaderTimer()
        }
        do {
            while !self.closed {
                if !self.requestInProgress {
                    // The next request waits for the response before it.
                    guard self.exchange == nil, !self.parser.isStopped else { return }
                } else if self.requestPaused && !self.discarding {
                    return
                }
                guard let event = try self.parser.next() else { return }
                switch event {
                case .requestHead(let head, let info):
                    self.startExchange(head, info)
                case .body(let bytes):
                    if !self.discarding { self.exchange?.requestBodyReceived(bytes) }
                case .end(let trailers):
                    self.requestInProgress = false
                    if self.discarding {
                        self.discarding = false
                        if !self.keepAlive { self.close() }
                    } else {
                        self.exchange?.requestEndReceived(trailers)
                    }
                case .responseHead:
                    return
                }
            }
        } catch {
            self.malformed(error)
        }
    }

    func startExchange(_ head: HTTPRequestHead, _ info: HTTP1Parser.MessageInfo) {
        var head = head
        if info.absoluteForm, let authority = head.authority {
            // The target's authority wins over Host (RFC 9112 §3.2.2), and the request that goes on must not carry
            // a Host that disagrees with where it was routed.
            head.fields.replaceOrAdd("host", authority)
        }
        self.requestInProgress = true
        self.requestVersion = head.version
        self.requestIsHEAD = head.isHEAD
        self.keepAlive = self.keepAlive && info.keepAlive
        let body: BodyFraming
        switch info.body {
        case .none, .length(0): body = .none
        case .length(let length): body = .length(length)
        case .chunked, .untilClose: body = .stream
        }
        let exchange = Exchange(connection: self.connection, downstream: self, head: head, body: body, upgrade: info.upgrade)
        self.exchange = exchange
        exchange.start()
    }

    /// A request that cannot be parsed: 400 (431 for an oversized head) and a clean close, unless a response is
    /// already under way, which can only be cut.
    func malformed(_ error: HTTP1ParseError) {
        if let exchange = self.exchange {
            exchange.downstreamClosed()
            self.close()
            return
        }
        let proxyError =
            error.kind == .headTooLarge
            ? ProxyError(.requestHeadTooLarge, "request head too large: \(error)") : ProxyError(.malformedRequest, "malformed HTTP request: \(error)")
        self.answerAndClose(proxyError)
    }

    /// An error answered by the connection itself (no exchange): written, then the connection closes.
    func answerAndClose(_ error: ProxyError) {
        guard let context = self.context, !self.closed else { return }
        self.connection.resources.metrics.recordHTTPError(self.connection.direction, error.code)
        self.keepAlive = false
        let body = "\(error.description)\n"
        var buffer = self.output.takeBuffer(context.channel.allocator, capacity: 256 + body.utf8.count)
        buffer.writeStaticString(self.requestVersion == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        HTTP1Serializer.writeStatus(error.code.httpStatus, into: &buffer)
        buffer.writeStaticString("content-type: text/plain; charset=utf-8\r\ncontent-length: ")
        buffer.writeString(String(body.utf8.count))
        buffer.writeStaticString("\r\nswiftlet-proxy-error: ")
        buffer.writeString(error.headerValue)
        buffer.writeStaticString("\r\nconnection: close\r\n\r\n")
        buffer.writeString(body)
        self.output.gather(buffer)
        self.flushResponse()
        self.close()
    }

    func updateHeaderTimer() {
        let waiting = !self.requestInProgress && self.exchange == nil && self.parser.isReadingHead && !self.closed
        if waiting, self.headerTimer == nil, let context = self.context {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.headerTimer = context.eventLoop.scheduleTask(in: self.headerReadTimeout) {
                let handler = bound.value
                handler.headerTimer = nil
                guard !handler.requestInProgress, handler.exchange == nil, handler.parser.isReadingHead else { return }
                let seconds = handler.headerReadTimeout.nanoseconds / 1_000_000_000
                handler.answerAndClose(ProxyError(.headerReadTimeout, "the request head was not complete within \(seconds)s"))
            }
        } else if !waiting, let timer = self.headerTimer {
            timer.cancel()
            self.headerTimer = nil
        }
    }

    // MARK: back-pressure

    func read(context: ChannelHandlerContext) {
        if self.canRead {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    /// Reads go on while a request streams (unless its upstream is full), and while nothing of a next request
    /// waits; a client waiting for its response sends nothing, and holding the read would cost an `epoll_ctl` pair
    /// per request for nothing.
    var canRead: Bool {
        if self.closed { return false }
        if self.requestInProgress { return !self.requestPaused || self.discarding }
        if self.exchange != nil { return self.parser.isIdle }
        return true
    }

    func resumeReadingIfPossible() {
        if self.pendingRead, self.canRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    func pauseRequest(_ paused: Bool) {
        self.requestPaused = paused
        if !paused {
            self.pump()
            // What the resumed parsing wrote upstream goes out now (this may run inside the upstream's flush).
            self.exchange?.requestReadComplete()
            self.resumeReadingIfPossible()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.exchange?.downstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    // MARK: the connection's life

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.headerTimer?.cancel()
        self.headerTimer = nil
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.exchange?.downstreamClosed()
        self.exchange = nil
        self.close()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client sent its last byte (accepted connections allow half-close for the opaque relay): answer
            // what is in flight, then close; close at once if nothing is, or if a request was cut short.
            self.keepAlive = false
            if self.requestInProgress {
                self.exchange?.downstreamClosed()
                self.exchange = nil
                self.close()
            } else if self.exchange == nil {
                self.close()
            }
            return
        }
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: finish the exchange in flight, then close; close at once if idle.
            self.keepAlive = false
            if self.exchange == nil && !self.requestInProgress { self.close() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.headerTimer?.cancel()
        self.headerTimer = nil
        self.context?.close(promise: nil)
    }

    // MARK: ExchangeDownstream

    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {
        guard let context = self.context, !self.closed else { return }
        var buffer = self.output.takeBuffer(context.channel.allocator)
        buffer.writeStaticString(self.requestVersion == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        HTTP1Serializer.writeStatus(head.status, into: &buffer)
        head.fields.writeHTTP1(into: &buffer)
        self.responseChunked = false
        if head.status >= 200 || head.status == 101 {
            let bodiless = self.requestIsHEAD || head.status == 204 || head.status == 304 || head.status == 101
            if !bodiless {
                if endStream {
                    if !head.fields.contains("content-length") { buffer.writeStaticString("content-length: 0\r\n") }
                } else if !head.fields.contains("content-length") {
                    if self.requestVersion == .http1_0 {
                        // HTTP/1.0 has no chunked coding: the body runs until the connection closes.
                        self.keepAlive = false
                    } else {
                        self.responseChunked = true
                        buffer.writeStaticString("transfer-encoding: chunked\r\n")
                    }
                }
            }
            if head.status != 101 {
                if !self.keepAlive {
                    buffer.writeStaticString("connection: close\r\n")
                } else if self.requestVersion == .http1_0 {
                    buffer.writeStaticString("connection: keep-alive\r\n")
                }
            }
        }
        buffer.writeStaticString("\r\n")
        self.output.gather(buffer)
    }

    func writeResponseBody(_ bytes: ByteBuffer) {
        guard let context = self.context, !self.closed else { return }
        let writes = self.output.body(bytes, chunked: self.responseChunked, allocator: context.channel.allocator)
        context.write(writes)
    }

    func writeResponseEnd(_ trailers: HTTPFields?) {
        guard self.responseChunked, let context = self.context, !self.closed else { return }
        self.responseChunked = false
        self.output.end(trailers, allocator: context.channel.allocator)
    }

    func flushResponse() {
        guard let context = self.context else { return }
        if let gathered = self.output.take() { context.write(NIOAny(gathered), promise: nil) }
        context.flush()
    }

    func exchangeFinished(requestComplete: Bool) {
        self.exchange = nil
        guard !self.closed else { return }
        self.flushResponse()
        if !requestComplete {
            if !self.keepAlive {
                self.close()
                return
            }
            // The response went out before the request ended: the rest of it is read and dropped.
            self.discarding = true
            self.pump()
            self.resumeReadingIfPossible()
            return
        }
        if !self.keepAlive {
            self.close()
            return
        }
        self.pump()
        self.resumeReadingIfPossible()
    }

    func abortResponse() {
        self.exchange = nil
        self.close()
    }

    func switchToTunnel(with upstream: any ExchangeUpstream) {
        self.exchange = nil
        self.requestInProgress = false
        guard let context = self.context else {
            upstream.release(reusable: false)
            return
        }
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
        do {
            try context.pipeline.syncOperations.addHandler(downstreamGlue, position: .after(self))
        } catch {
            upstream.release(reusable: false)
            self.close()
            return
        }
        guard upstream.joinTunnel(upstreamGlue) else {
            self.close()
            return
        }
        // Bytes the client sent past the upgrade request go through the relay first.
        if let leftover = self.parser.takeUnparsedBytes() { context.fireChannelRead(NIOAny(leftover)) }
        self.headerTimer?.cancel()
        self.headerTimer = nil
        self.closed = true
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        context.channel.read()
    }
}

@available(*, unavailable)
extension HTTP1ServerHandler: Sendable {}
