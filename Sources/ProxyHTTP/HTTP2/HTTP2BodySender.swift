import NIOCore
import NIOHTTP2
import ProxyCore

/// How either HTTP/2 edge sends a forwarded body on its stream (the server stream a response, the client stream a
/// request): each part as `DATA`, the last part held so that it carries `END_STREAM`, trailers as a final `HEADERS`,
/// and flow accounting whose confirmations tell the other side of the exchange when there is room again.
protocol HTTP2BodySender: AnyObject {
    var id: HTTP2StreamID { get }
    var flow: HTTP2FlowAccounting { get set }
    var heldData: HTTP2HeldData { get set }
    var eventLoop: EventLoop? { get }
    func writeFrame(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?)
    /// Written bytes were confirmed sent: the stream may be writable again.
    func sendingConfirmed()
}

extension HTTP2BodySender {
    func sendBody(_ bytes: ByteBuffer) {
        if let previous = self.heldData.hold(bytes) { self.sendData(previous, endStream: false) }
    }

    /// The body's end: the held part with `END_STREAM`, or the trailers after it, or an empty `DATA` that ends the
    /// stream.
    func sendEnd(_ trailers: HTTPFields?) {
        if let trailers, !trailers.isEmpty {
            self.sendHeld()
            let headers = trailers.hpackHeaders ?? trailers.hpack(pseudo: [])
            self.writeFrame(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: true))), promise: nil)
        } else if let held = self.heldData.take() {
            self.sendData(held, endStream: true)
        } else {
            self.writeFrame(HTTP2Frame(streamID: self.id, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
        }
    }

    /// A flush is due: the held part cannot wait for the end any longer.
    func sendHeld() {
        if let held = self.heldData.take() { self.sendData(held, endStream: false) }
    }

    private func sendData(_ bytes: ByteBuffer, endStream: Bool) {
        let frame = HTTP2Frame(streamID: self.id, payload: .data(.init(data: .byteBuffer(bytes), endStream: endStream)))
        guard self.flow.writing(bytes.readableBytes), let loop = self.eventLoop else {
            self.writeFrame(frame, promise: nil)
            return
        }
        let mark = self.flow.unconfirmed
        let promise = loop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.flow.confirmed(mark)
            self.sendingConfirmed()
        }
        self.writeFrame(frame, promise: promise)
    }
}
