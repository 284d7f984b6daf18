import NIOCore
import NIOHTTP2
import ProxyCore

/// One forwarded HTTP/2 stream, on either edge (a server stream receives a request and sends a response; a client
/// stream sends a request and receives a response). What the two have in common is here, once: the body received
/// and its window given back as the other side takes it (`HTTP2FlowAccounting`), the body sent — each part as
/// `DATA`, the last held so that it carries `END_STREAM` (`HTTP2HeldData`), trailers as a final `HEADERS` — with the
/// confirmations that tell the other side of the exchange when there is room again.
protocol HTTP2ForwardingStream: AnyObject {
    var id: HTTP2StreamID { get }
    var writer: HTTP2FrameWriter { get }
    var flow: HTTP2FlowAccounting { get set }
    var heldData: HTTP2HeldData { get set }
    /// The peer may still send on the stream.
    var receiveOpen: Bool { get set }
    /// Received something in the current read (`HTTP2ReadBatch`).
    var touched: Bool { get set }
    /// Received body bytes, for the exchange.
    func deliverBody(_ bytes: ByteBuffer)
    /// The received side ended (`END_STREAM`), with trailers or not.
    func deliverEnd(_ trailers: HTTPFields?)
    /// Written bytes were confirmed sent: the stream may be writable again.
    func sendingConfirmed()
}

extension HTTP2ForwardingStream {
    /// The stream can take more to send without piling up.
    var canSend: Bool { self.writer.isWritable && self.flow.isBelowWatermark }

    // MARK: receiving

    func receivedData(_ data: HTTP2Frame.FramePayload.Data) {
        if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 { self.deliverBody(bytes) }
        if let credit = self.flow.received(data.flowControlledLength, window: HTTP2Tuning.streamWindow) { self.giveBack(credit) }
        if data.endStream {
            self.receiveOpen = false
            self.deliverEnd(nil)
        }
    }

    /// The other side of the exchange is full (or has room again): the window is held back (or given back).
    func pauseReceiving(_ paused: Bool) {
        guard paused != self.flow.receivePaused else { return }
        self.flow.receivePaused = paused
        if !paused, let credit = self.flow.creditDue(window: HTTP2Tuning.streamWindow) {
            self.giveBack(credit)
            self.writer.flush()
        }
    }

    private func giveBack(_ credit: Int) {
        guard self.receiveOpen else { return }
        self.writer.write(HTTP2Frame(streamID: self.id, payload: .windowUpdate(windowSizeIncrement: credit)))
    }

    /// Resets the stream with `code`, flushed.
    func reset(with code: HTTP2ErrorCode) {
        self.writer.write(HTTP2Frame(streamID: self.id, payload: .rstStream(code)))
        self.writer.flush()
    }

    // MARK: sending

    func sendBody(_ bytes: ByteBuffer) {
        if let previous = self.heldData.hold(bytes) { self.sendData(previous, endStream: false) }
    }

    /// The body's end: the held part with `END_STREAM`, or the trailers after it, or an empty `DATA` that ends the
    /// stream.
    func sendEnd(_ trailers: HTTPFields?) {
        if let trailers, !trailers.isEmpty {
            self.sendHeld()
            let headers = trailers.hpackHeaders ?? trailers.hpack(pseudo: [])
            self.writer.write(HTTP2Frame(streamID: self.id, payload: .headers(.init(headers: headers, endStream: true))))
        } else if let held = self.heldData.take() {
            self.sendData(held, endStream: true)
        } else {
            self.writer.write(HTTP2Frame(streamID: self.id, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))))
        }
    }

    /// A flush is due: the held part cannot wait for the end any longer.
    func sendHeld() {
        if let held = self.heldData.take() { self.sendData(held, endStream: false) }
    }

    private func sendData(_ bytes: ByteBuffer, endStream: Bool) {
        let frame = HTTP2Frame(streamID: self.id, payload: .data(.init(data: .byteBuffer(bytes), endStream: endStream)))
        guard self.flow.writing(bytes.readableBytes), let loop = self.writer.eventLoop else {
            self.writer.write(frame)
            return
        }
        let mark = self.flow.unconfirmed
        let promise = loop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.flow.confirmed(mark)
            self.sendingConfirmed()
        }
        self.writer.write(frame, promise: promise)
    }
}
