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

    let connection: ConnectionContext
    var machine: HTTP1ServerStateMachine
    var parser = HTTP1Parser(mode: .request)
    var context: ChannelHandlerContext?
    var exchange: Exchange?
    /// The pipeline asked for a read the connection held back.
    var pendingRead = false
    /// `pump` is running (an event it delivers may call back into it).
    var pumping = false
    /// The header-read timer, when armed: it may fire early (the deadline moved on), and then arms again.
    var timer: Scheduled<Void>?
    var output = HTTP1Output()

    init(connection: ConnectionContext, headerReadTimeout: TimeAmount) {
        self.connection = connection
        self.machine = HTTP1ServerStateMachine(headerReadTimeout: headerReadTimeout, now: connection.eventLoop.now)
    }

    var isHTTP2: Bool { false }
    var closed: Bool {
        switch self.machine.state {
        case .closed, .tunnel: return true
        default: return false
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.peer = context.channel.remoteAddress
        self.context = context
        self.armTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.timer?.cancel()
        self.timer = nil
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
        guard !self.pumping else { return }
        self.pumping = true
        defer { self.pumping = false }
        do {
            while self.machine.mayParse {
                if case .idle = self.machine.state, self.parser.isStopped { return }
                guard let event = try self.parser.next() else { return }
                switch event {
                case .requestHead(let head, let info):
                    self.startExchange(head, info)
                case .body(let bytes):
                    if self.machine.bodyReceived() == .deliver { self.exchange?.requestBodyReceived(bytes) }
                case .end(let trailers):
                    switch self.machine.endReceived(now: self.connection.eventLoop.now) {
                    case .deliver: self.exchange?.requestEndReceived(trailers)
                    case .drop: self.armTimer()
                    case .dropAndClose: self.close()
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
        self.machine.headReceived(version: head.version, isHEAD: head.isHEAD, keepAlive: info.keepAlive)
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
        switch self.machine.malformed() {
        case .abortExchangeAndClose:
            let exchange = self.exchange
            self.exchange = nil
            exchange?.downstreamClosed()
            self.closeChannel()
        default:
            let proxyError =
                error.kind == .headTooLarge
                ? ProxyError(.requestHeadTooLarge, "request head too large: \(error)")
                : ProxyError(.malformedRequest, "malformed HTTP request: \(error)")
            self.answerAndClose(proxyError)
        }
    }

    /// An error answered by the connection itself (no exchange): written, then the connection closes.
    func answerAndClose(_ error: ProxyError) {
        guard let context = self.context, context.channel.isActive else { return }
        self.connection.resources.metrics.recordHTTPError(self.connection.direction, error.code)
        var response = LocalResponse.error(error, grpc: false)
        response.head.fields.add("connection", "close")
        var buffer = self.output.takeBuffer(context.channel.allocator, capacity: 256 + (response.body?.readableBytes ?? 0))
        HTTP1Serializer.writeResponseHead(response.head, version: self.machine.version, into: &buffer)
        if var body = response.body { buffer.writeBuffer(&body) }
        self.output.gather(buffer)
        self.flushResponse()
        self.closeChannel()
    }

    /// Arms the header-read timer if it is not: it fires at the deadline of the moment, and arms again if the
    /// deadline moved on meanwhile — a keep-alive connection costs no timer per request.
    func armTimer() {
        guard self.timer == nil, let deadline = self.machine.nextDeadline, let context = self.context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let handler = bound.value
            handler.timer = nil
            guard handler.machine.timerFired(now: handler.connection.eventLoop.now) else {
                handler.armTimer()
                return
            }
            let seconds = handler.machine.headerReadTimeout.nanoseconds / 1_000_000_000
            handler.answerAndClose(ProxyError(.headerReadTimeout, "the request head was not complete within \(seconds)s"))
        }
    }

    // MARK: back-pressure

    func read(context: ChannelHandlerContext) {
        if self.machine.canRead(parserIsIdle: self.parser.isIdle) {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func resumeReadingIfPossible() {
        if self.pendingRead, self.machine.canRead(parserIsIdle: self.parser.isIdle), let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    func pauseRequest(_ paused: Bool) {
        self.machine.requestPaused(paused)
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
        self.machine.closed()
        self.timer?.cancel()
        self.timer = nil
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
        self.close()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let action: HTTP1ServerStateMachine.CloseAction
        if case ChannelEvent.inputClosed = event {
            // The client sent its last byte (accepted connections allow half-close for the opaque relay).
            action = self.machine.inputClosed()
        } else if event is ChannelShouldQuiesceEvent {
            action = self.machine.quiesce()
        } else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch action {
        case .none, .answerAndClose:
            break
        case .close:
            self.closeChannel()
        case .abortExchangeAndClose:
            let exchange = self.exchange
            self.exchange = nil
            exchange?.downstreamClosed()
            self.closeChannel()
        }
    }

    /// Closes the connection, whatever its state.
    func close() {
        guard !self.closed else { return }
        self.machine.closed()
        self.closeChannel()
    }

    /// Closes once what was written has left: closing with writes still queued (a slow reader's socket is full)
    /// would drop the end of the response. A reader that never takes it is closed anyway after the header read
    /// timeout, so it holds nothing for long.
    func closeAfterWrites() {
        guard let context = self.context else { return }
        self.timer?.cancel()
        self.timer = nil
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let deadline = context.eventLoop.scheduleTask(in: self.machine.headerReadTimeout) { bound.value.close(promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0)), promise: written)
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            bound.value.close(promise: nil)
        }
    }

    func closeChannel() {
        self.timer?.cancel()
        self.timer = nil
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP1ServerHandler: Sendable {}
