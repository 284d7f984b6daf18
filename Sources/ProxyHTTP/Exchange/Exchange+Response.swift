import NIOCore
import ProxyCore

/// The response, from the upstream to the downstream.
extension Exchange {
    func responseHeadReceived(_ head: HTTPResponseHead, endStream: Bool) {
        guard !self.isFinished, let downstream = self.downstream else { return }
        if self.machine.watchesIdle { self.machine.activity(now: self.now) }
        var head = head
        if !head.isInformational, head.status != 101, case .awaitingResponse = self.machine.phase,
            case .retry(let delay) = self.path.verdict({ $0.response(&head, self) }),
            let now = self.machine.retryAfterResponse(after: delay, now: self.now)
        {
            let grpcStatus = head.fields.first("grpc-status").flatMap { Int($0) }
            self.settleAttempt(RouteOutcome(status: head.status, grpcStatus: grpcStatus, error: nil))
            self.upstream?.release(reusable: false)
            self.upstream = nil
            self.endpoints.abandon(&self.attempt)
            self.attempt.retries += 1
            self.retry(now: now)
            return
        }
        switch self.machine.responseHead(status: head.status, endStream: endStream) {
        case .forwardInformational:
            downstream.writeResponseHead(head, endStream: false)
        case .forward(let endStream):
            self.outcome.status = head.status
            head.fields.removeConnectionFields()
            if self.attempt.http2, let status = head.fields.first("grpc-status") { self.outcome.grpcStatus = Int(status) }
            downstream.writeResponseHead(head, endStream: endStream)
            if endStream { self.responseComplete(requestComplete: self.machine.requestEnded) }
        case .switchProtocols:
            self.outcome.status = 101
            head.fields.removeConnectionFields(keepingUpgrade: true)
            downstream.writeResponseHead(head, endStream: false)
            downstream.flushResponse()
            guard let upstream = self.upstream else { return }
            self.upstream = nil
            downstream.switchToTunnel(with: upstream)
            self.downstream = nil
            self.finish()
        case .ignore:
            if head.status == 101 {
                self.upstreamFailed(ProxyError(.upstreamProtocol, "the upstream switched protocols without being asked"))
            }
        }
    }

    func responseBodyReceived(_ bytes: ByteBuffer) {
        if self.machine.watchesIdle { self.machine.activity(now: self.now) }
        guard self.machine.responseBody() == .forward, let downstream = self.downstream else { return }
        self.outcome.responseBytes &+= bytes.readableBytes
        downstream.writeResponseBody(bytes)
        if !downstream.isWritable { self.upstream?.pauseResponse(true) }
    }

    func responseEndReceived(_ trailers: HTTPFields?) {
        guard case .forward(let requestComplete) = self.machine.responseEnd() else { return }
        if let trailers {
            if self.attempt.http2, let status = trailers.first("grpc-status") { self.outcome.grpcStatus = Int(status) }
            self.outcome.trailers = trailers
        }
        self.downstream?.writeResponseEnd(trailers)
        self.responseComplete(requestComplete: requestComplete)
    }

    /// The upstream read a batch: what went downstream meanwhile is flushed once.
    func responseReadComplete() {
        self.downstream?.flushResponse()
    }

    private func responseComplete(requestComplete: Bool) {
        self.outcome.completed = true
        let upstream = self.upstream
        self.upstream = nil
        // An upstream whose request was not all sent cannot carry another one.
        upstream?.release(reusable: requestComplete)
        self.finish(requestComplete: requestComplete)
    }
}
