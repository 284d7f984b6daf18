import NIOCore
import ProxyCore
import ProxyTransport

/// The upstream edge for HTTP/1.1: one pooled connection, carrying one exchange at a time. Requests are written
/// from the exchange model as bytes (fields that arrived as HTTP/1 are copied as they were), responses parsed
/// straight from the bytes read.
final class HTTP1ClientHandler: ChannelDuplexHandler, RemovableChannelHandler, ExchangeUpstream {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let key: UpstreamKey
    /// Weak: a connection can outlive its loop's pool at shutdown.
    weak var pool: HTTP1ConnectionPool?
    var parser = HTTP1Parser(mode: .response)
    var context: ChannelHandlerContext?
    var exchange: Exchange?
    /// Exchanges this connection carried to their end: more than zero means the server may have closed it since.
    var served = 0
    var requestChunked = false
    var responseKeepAlive = true
    var responseDone = false
    var pendingRead = false
    var responsePaused = false
    var pumping = false
    /// In the pool's idle list, since when.
    var idleSince: NIODeadline?
    var output = HTTP1Output()

    init(key: UpstreamKey, pool: HTTP1ConnectionPool) {
        self.key = key
        self.pool = pool
    }

    var isReused: Bool { self.served > 0 }
    var isActive: Bool { self.context?.channel.isActive ?? false }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: ExchangeUpstream

    func attach(_ exchange: Exchange) {
        self.exchange = exchange
        self.responseKeepAlive = true
        self.responseDone = false
        self.responsePaused = false
    }

    func writeRequestHead(_ head: HTTPRequestHead, endStream: Bool) {
        guard let context = self.context else { return }
        self.parser.expectResponse(toMethod: head.method)
        var buffer = self.output.takeBuffer(context.channel.allocator)
        buffer.writeString(head.method)
        buffer.writeStaticString(" ")
        buffer.writeString(head.path)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        head.fields.writeHTTP1(into: &buffer)
        if let authority = head.authority, !head.fields.contains("host") {
            buffer.writeStaticString("host: ")
            buffer.writeString(authority)
            buffer.writeStaticString("\r\n")
        }
        self.requestChunked = false
        if !endStream, !head.fields.contains("content-length") {
            self.requestChunked = true
            buffer.writeStaticString("transfer-encoding: chunked\r\n")
        } else if endStream, head.method == "POST" || head.method == "PUT" || head.method == "PATCH",
            !head.fields.contains("content-length")
        {
            buffer.writeStaticString("content-length: 0\r\n")
        }
        buffer.writeStaticString("\r\n")
        self.output.gather(buffer)
    }

    func writeRequestBody(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        let writes = self.output.body(bytes, chunked: self.requestChunked, allocator: context.channel.allocator)
        context.write(writes)
    }

    func writeRequestEnd(_ trailers: HTTPFields?) {
        guard self.requestChunked, let context = self.context else { return }
        self.requestChunked = false
        self.output.end(trailers, allocator: context.channel.allocator)
    }

    func flushRequest() {
        guard let context = self.context else { return }
        if let gathered = self.output.take() { context.write(NIOAny(gathered), promise: nil) }
        context.flush()
    }

    func pauseResponse(_ paused: Bool) {
        self.responsePaused = paused
        if !paused {
            self.pump()
            // What the resumed parsing wrote downstream must go out now: this may run inside the downstream's own
            // flush (its writability returned), and nothing else would flush it.
            self.exchange?.responseReadComplete()
            if self.pendingRead, let context = self.context {
                self.pendingRead = false
                context.read()
            }
        }
    }

    func release(reusable: Bool) {
        self.exchange = nil
        self.served += 1
        if reusable, self.responseDone, self.responseKeepAlive, self.parser.isIdle, self.output.isEmpty, self.isActive, let pool = self.pool
        {
            pool.release(self)
        } else {
            self.context?.close(promise: nil)
        }
        // An idle connection keeps reading, so that a close by the server is seen at once.
        if self.pendingRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    func joinTunnel(_ glue: GlueHandler) -> Bool {
        self.exchange = nil
        guard let context = self.context, context.channel.isActive else { return false }
        do {
            try context.pipeline.syncOperations.addHandler(glue, position: .after(self))
        } catch {
            context.close(promise: nil)
            return false
        }
        // What the server sent right after its `101` goes through the relay first.
        if let leftover = self.parser.takeUnparsedBytes() { context.fireChannelRead(NIOAny(leftover)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        context.channel.read()
        return true
    }

    // MARK: reading responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.exchange != nil else {
            // Bytes on an idle pooled connection: the server is misbehaving. Do not reuse it.
            context.close(promise: nil)
            return
        }
        self.parser.append(Self.unwrapInboundIn(data))
        self.pump()
    }

    func pump() {
        guard !self.pumping else { return }
        self.pumping = true
        defer { self.pumping = false }
        do {
            while let exchange = self.exchange, !self.responsePaused, let event = try self.parser.next() {
                switch event {
                case .responseHead(let head, let info):
                    if !head.isInformational {
                        self.responseKeepAlive = info.keepAlive
                        if info.body == .untilClose { self.responseKeepAlive = false }
                    }
                    if info.body == .none, !head.isInformational, head.status != 101 {
                        // A bodiless response is complete with its head: its end (always the parser's next event)
                        // is taken now, so the exchange can give this connection back at once.
                        _ = try self.parser.next()
                        self.responseDone = true
                        exchange.responseHeadReceived(head, endStream: true)
                    } else {
                        exchange.responseHeadReceived(head, endStream: false)
                    }
                case .body(let bytes):
                    exchange.responseBodyReceived(bytes)
                case .end(let trailers):
                    self.responseDone = true
                    exchange.responseEndReceived(trailers)
                case .requestHead:
                    break
                }
            }
        } catch {
            self.failed(ProxyError(.upstreamProtocol, "upstream sent a malformed response (\(error))"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.exchange?.responseReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if self.exchange != nil, self.responsePaused {
            self.pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.exchange?.upstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.exchange != nil {
            // A body that runs until the close ends here; anything else was cut short.
            do {
                if case .end(let trailers)? = try self.parser.inputClosed() {
                    self.responseDone = true
                    self.exchange?.responseEndReceived(trailers)
                }
            } catch {}
            if self.exchange != nil { self.failed(ProxyError(.connectionReset, "upstream closed the connection")) }
        } else if self.idleSince != nil {
            self.pool?.idleConnectionClosed(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.failed(Self.classify(error))
        context.close(promise: nil)
    }

    private func failed(_ error: ProxyError) {
        guard let exchange = self.exchange else { return }
        self.exchange = nil
        self.context?.close(promise: nil)
        exchange.upstreamFailed(error)
    }

    static func classify(_ error: Error) -> ProxyError {
        if let error = error as? ProxyError { return error }
        if let error = error as? IOError, error.errnoCode == 104 {  // ECONNRESET
            return ProxyError(.connectionReset, "upstream reset the connection")
        }
        return ProxyError(.upstreamFailed, "upstream failed: \(error)")
    }
}

@available(*, unavailable)
extension HTTP1ClientHandler: Sendable {}
