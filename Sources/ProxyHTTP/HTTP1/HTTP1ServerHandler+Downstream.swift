import NIOCore
import ProxyCore
import ProxyTransport

/// The exchange's downstream: responses written as bytes, in one buffer per head, bodies as the slices they arrived
/// in (chunked when their length is not known), and the connection's next step when the exchange is done.
extension HTTP1ServerHandler {
    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {
        guard let context = self.context, !self.closed else { return }
        let framing = self.machine.responseHead(
            status: head.status, endStream: endStream, hasContentLength: head.fields.contains("content-length"))
        var buffer = self.output.takeBuffer(context.channel.allocator)
        buffer.writeStaticString(self.machine.version == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        HTTP1Serializer.writeStatus(head.status, into: &buffer)
        head.fields.writeHTTP1(into: &buffer)
        if framing.contentLengthZero { buffer.writeStaticString("content-length: 0\r\n") }
        if framing.chunked { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
        switch framing.connection {
        case .none: break
        case .close: buffer.writeStaticString("connection: close\r\n")
        case .keepAlive: buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        self.output.gather(buffer)
    }

    func writeResponseBody(_ bytes: ByteBuffer) {
        guard let context = self.context, !self.closed else { return }
        let writes = self.output.body(bytes, chunked: self.machine.responseChunked, allocator: context.channel.allocator)
        context.write(writes)
    }

    func writeResponseEnd(_ trailers: HTTPFields?) {
        guard let context = self.context, !self.closed, self.machine.responseEnded() else { return }
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
        switch self.machine.exchangeFinished(requestComplete: requestComplete, now: self.connection.eventLoop.now) {
        case .close:
            self.closeAfterWrites()
        case .discard:
            // The response went out before the request ended: the rest of it is read and dropped.
            self.pump()
            self.resumeReadingIfPossible()
        case .next:
            self.armTimer()
            self.pump()
            self.resumeReadingIfPossible()
        }
    }

    func abortResponse() {
        self.exchange = nil
        self.close()
    }

    func switchToTunnel(with upstream: any ExchangeUpstream) {
        self.exchange = nil
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
        self.timer?.cancel()
        self.timer = nil
        self.machine.switchedToTunnel()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        context.channel.read()
    }
}
