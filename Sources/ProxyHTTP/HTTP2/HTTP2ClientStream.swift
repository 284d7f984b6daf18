import NIOCore
import NIOHTTP2
import ProxyCore
import ProxyTransport

/// One stream of an upstream HTTP/2 connection, as its exchange's upstream: it sends the request and receives the
/// response (`HTTP2ForwardingStream` has the frames of both).
final class HTTP2ClientStream: ExchangeUpstream, HTTP2ForwardingStream {
    let id: HTTP2StreamID
    unowned let handler: HTTP2ClientHandler
    let writer: HTTP2FrameWriter
    let isReused: Bool
    var exchange: Exchange?
    var flow = HTTP2FlowAccounting()
    var heldData = HTTP2HeldData()
    /// The request has not ended.
    var sendOpen = true
    /// The server has not ended its side (the response).
    var receiveOpen = true
    /// The request's `HEADERS` went out (the stream exists for the server).
    var started = false
    var finalHeadSeen = false
    var touched = false

    init(id: HTTP2StreamID, handler: HTTP2ClientHandler, reused: Bool) {
        self.id = id
        self.handler = handler
        self.writer = handler.writer
        self.isReused = reused
    }

    var isWritable: Bool { self.canSend }

    func attach(_ exchange: Exchange) {
        self.exchange = exchange
    }

    func writeRequestHead(_ head: HTTPRequestHead, endStream: Bool) {
        self.started = true
        let headers = head.fields.hpackRequest(
            method: head.method, scheme: head.scheme ?? "http", authority: head.authority, path: head.path)
        if endStream { self.sendOpen = false }
        self.writer.write(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: endStream))))
    }

    func writeRequestBody(_ bytes: ByteBuffer) {
        guard self.sendOpen, bytes.readableBytes > 0 else { return }
        self.sendBody(bytes)
    }

    func writeRequestEnd(_ trailers: HTTPFields?) {
        guard self.sendOpen else { return }
        self.sendOpen = false
        self.sendEnd(trailers)
        self.writer.flush()
    }

    func flushRequest() {
        self.sendHeld()
        self.writer.flush()
    }

    func sendingConfirmed() {
        if self.isWritable { self.exchange?.upstreamWritable() }
    }

    func pauseResponse(_ paused: Bool) {
        self.pauseReceiving(paused)
    }

    func release(reusable: Bool) {
        self.exchange = nil
        guard self.started else {
            self.handler.streams.removeValue(forKey: self.id)
            return
        }
        if self.sendOpen || self.receiveOpen {
            // Abandoned half-way (the client went away, a timeout, an early response): the server stops.
            self.sendOpen = false
            self.receiveOpen = false
            self.reset(with: .cancel)
        }
    }

    func joinTunnel(_ glue: GlueHandler) -> Bool { false }

    // MARK: frames from the server

    func receivedHeaders(_ payload: HTTP2Frame.FramePayload.Headers) {
        guard let exchange = self.exchange else { return }
        if self.finalHeadSeen {
            self.receiveOpen = false
            exchange.responseEndReceived(HTTPFields(payload.headers))
            return
        }
        let status = payload.headers.first(name: ":status").flatMap { Int($0) } ?? 0
        let head = HTTPResponseHead(status: status, version: .http2, fields: HTTPFields(payload.headers))
        if !head.isInformational { self.finalHeadSeen = true }
        if payload.endStream { self.receiveOpen = false }
        exchange.responseHeadReceived(head, endStream: payload.endStream)
    }

    func deliverBody(_ bytes: ByteBuffer) {
        self.exchange?.responseBodyReceived(bytes)
    }

    func deliverEnd(_ trailers: HTTPFields?) {
        self.exchange?.responseEndReceived(trailers)
    }

    func becameWritable() {
        if self.isWritable { self.exchange?.upstreamWritable() }
    }

    func reset(_ code: HTTP2ErrorCode) {
        self.sendOpen = false
        self.receiveOpen = false
        let error =
            code == .refusedStream
            ? ProxyError(.upstreamFailed, "the server refused the stream (it was not processed)")
            : ProxyError(.connectionReset, "the server reset the stream (\(code))")
        self.failed(error)
    }

    /// The stream closed: normally once both sides ended (the exchange has the whole response by then), otherwise a
    /// failure.
    func closed(_ reason: HTTP2ErrorCode?) {
        self.sendOpen = false
        let wasOpen = self.receiveOpen
        self.receiveOpen = false
        if wasOpen, self.exchange != nil {
            self.failed(
                ProxyError(.connectionReset, "the HTTP/2 stream closed\(reason.map { " (\($0))" } ?? "") before the response ended"))
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
