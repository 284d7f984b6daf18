import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyCore

/// One stream of an HTTP/2 server connection, as its exchange's downstream: it receives the request and sends the
/// response (`HTTP2ForwardingStream` has the frames of both).
final class HTTP2ServerStream: ExchangeDownstream, HTTP2ForwardingStream {
    let id: HTTP2StreamID
    let writer: HTTP2FrameWriter
    var exchange: Exchange?
    var flow = HTTP2FlowAccounting()
    var heldData = HTTP2HeldData()
    /// The client has not ended its side (the request).
    var receiveOpen = true
    /// The response has not ended.
    var sendOpen = true
    var touched = false

    init(id: HTTP2StreamID, writer: HTTP2FrameWriter) {
        self.id = id
        self.writer = writer
    }

    var isHTTP2: Bool { true }
    var isWritable: Bool { self.canSend }

    func deliverBody(_ bytes: ByteBuffer) {
        self.exchange?.requestBodyReceived(bytes)
    }

    func deliverEnd(_ trailers: HTTPFields?) {
        self.exchange?.requestEndReceived(trailers)
    }

    func receivedTrailers(_ headers: HPACKHeaders) {
        self.receiveOpen = false
        self.deliverEnd(HTTPFields(headers))
    }

    /// The client reset the stream (or sent something the HTTP/2 handler refused on it).
    func resetByClient() {
        self.receiveOpen = false
        self.sendOpen = false
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
    }

    /// The stream is closed for both sides: its last frame went (NIO says so while the frame is being written, before
    /// the exchange has finished), or it was reset. Only a close before the response ended means the client is gone.
    func streamClosed() {
        self.receiveOpen = false
        guard self.sendOpen else { return }
        self.sendOpen = false
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
    }

    func becameWritable() {
        if self.isWritable { self.exchange?.downstreamWritable() }
    }

    func sendingConfirmed() {
        if self.isWritable { self.exchange?.downstreamWritable() }
    }

    // MARK: ExchangeDownstream

    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {
        guard self.sendOpen else { return }
        let headers = head.fields.hpackResponse(status: head.status)
        if endStream { self.sendOpen = false }
        self.writer.write(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: endStream))))
        if endStream { self.writer.flush() }
    }

    func writeResponseBody(_ bytes: ByteBuffer) {
        guard self.sendOpen, bytes.readableBytes > 0 else { return }
        self.sendBody(bytes)
    }

    func writeResponseEnd(_ trailers: HTTPFields?) {
        guard self.sendOpen else { return }
        self.sendOpen = false
        self.sendEnd(trailers)
        self.writer.flush()
    }

    func flushResponse() {
        self.sendHeld()
        self.writer.flush()
    }

    func pauseRequest(_ paused: Bool) {
        self.pauseReceiving(paused)
    }

    func exchangeFinished(requestComplete: Bool) {
        self.exchange = nil
        if self.receiveOpen {
            // The response is complete and the request is not: ask the client to stop sending, without error
            // (RFC 9113 §8.1).
            self.receiveOpen = false
            self.reset(with: .noError)
        }
    }

    func abortResponse() {
        self.exchange = nil
        guard self.sendOpen || self.receiveOpen else { return }
        self.sendOpen = false
        self.receiveOpen = false
        self.reset(with: .internalError)
    }

    func switchToTunnel(with upstream: any ExchangeUpstream) {
        upstream.release(reusable: false)
        self.abortResponse()
    }
}

@available(*, unavailable)
extension HTTP2ServerStream: Sendable {}
