import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyCore

/// The downstream edge for HTTP/2: frames in, one exchange per stream, responses back as frames. It sits directly
/// on the connection's HTTP/2 handler (no stream channels, no conversion to HTTP/1 parts), so a stream costs an
/// entry in a dictionary and an exchange.
///
/// Streams give their flow-control windows back themselves (`HTTP2ForwardingStream`), the connection's window is
/// the writer's (`HTTP2FrameWriter`); the connection's own logic — the wait for a first stream, quiescing — is
/// `HTTP2ServerStateMachine`'s.
final class HTTP2ServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let connection: ConnectionContext
    let writer: HTTP2FrameWriter
    var machine: HTTP2ServerStateMachine
    var streams: [HTTP2StreamID: HTTP2ServerStream] = [:]
    var batch = HTTP2ReadBatch<HTTP2ServerStream>()
    var timer: Scheduled<Void>?

    init(connection: ConnectionContext, headerReadTimeout: TimeAmount) {
        self.connection = connection
        self.writer = HTTP2FrameWriter(flusher: connection.resources.flusher)
        self.machine = HTTP2ServerStateMachine(headerReadTimeout: headerReadTimeout, now: connection.eventLoop.now)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.peer = context.channel.remoteAddress
        self.writer.attach(context)
        if context.channel.isActive { _ = self.writer.connectionActive() }
        if let deadline = self.machine.nextDeadline {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
                let handler = bound.value
                handler.timer = nil
                handler.perform(handler.machine.timerFired(now: handler.connection.eventLoop.now))
            }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        _ = self.writer.connectionActive()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.writer.detach()
        self.timer?.cancel()
        self.timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let stream = self.streams[frame.streamID] {
                stream.receivedTrailers(headers.headers)
                self.batch.touch(stream)
            } else {
                self.openStream(frame.streamID, headers)
            }
        case .data(let data):
            guard let stream = self.streams[frame.streamID] else { return }
            stream.receivedData(data)
            self.batch.touch(stream)
        case .rstStream:
            self.streams[frame.streamID]?.resetByClient()
        case .goAway:
            self.quiesce()
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.batch.end { $0.exchange?.requestReadComplete() }
        self.writer.flush()
    }

    private func openStream(_ id: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload.Headers) {
        let headers = payload.headers
        let stream = HTTP2ServerStream(id: id, writer: self.writer)
        self.streams[id] = stream
        self.machine.streamOpened(id)
        if let timer = self.timer {
            timer.cancel()
            self.timer = nil
        }
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
        if method == "CONNECT" {
            // Extended CONNECT (WebSockets over HTTP/2) is not relayed.
            stream.reset(with: .refusedStream)
            return
        }
        let fields = HTTPFields(headers)
        if authority == nil, let host = fields.first("host") { authority = host }
        let body: BodyFraming
        if payload.endStream {
            body = .none
        } else if let length = fields.first("content-length").flatMap({ Int($0) }) {
            body = .length(length)
        } else {
            body = .stream
        }
        let head = HTTPRequestHead(method: method, scheme: scheme, authority: authority, path: path, version: .http2, fields: fields)
        let exchange = Exchange(connection: self.connection, downstream: stream, head: head, body: body, upgrade: false)
        stream.exchange = exchange
        exchange.start()
        if payload.endStream {
            stream.receiveOpen = false
            stream.exchange?.requestEndReceived(nil)
        } else {
            self.batch.touch(stream)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            guard let stream = self.streams.removeValue(forKey: closed.streamID) else { return }
            stream.streamClosed()
            self.perform(self.machine.streamClosed(openStreams: self.streams.count))
        case let window as NIOHTTP2WindowUpdatedEvent:
            self.writer.windowUpdated(window)
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
        self.perform(self.machine.quiesce(openStreams: self.streams.count))
    }

    private func perform(_ action: HTTP2ServerStateMachine.Action) {
        switch action {
        case .none:
            break
        case .goAway(let lastStreamID, let close):
            self.writer.writeAndFlush(
                HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil)))
            if close { self.close() }
        case .close:
            self.close()
        }
    }

    func close() {
        self.timer?.cancel()
        self.timer = nil
        self.writer.context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for stream in self.streams.values { stream.becameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.machine.closed()
        self.timer?.cancel()
        self.timer = nil
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
}

@available(*, unavailable)
extension HTTP2ServerHandler: Sendable {}
