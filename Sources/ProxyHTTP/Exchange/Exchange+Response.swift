import NIOCore
import ProxyCore

/// The response, from the upstream to the downstream.
extension Exchange {
    func responseHeadReceived(_ head: HTTPResponseHead, endStream: Bool) {
        guard !self.isFinished, let downstream = self.downstream else { return }
        if self.idleTimeout != nil { self.lastActivity = self.eventLoop.now }
        var head = head
        if !head.isInformational, head.status != 101, self.machine.phase == .streaming, let chain = self.chain, !chain.stages.isEmpty {
            var retry = false
            for stage in chain.stages.reversed() where stage.response(&head, self) == .retry {
                retry = true
                break
            }
            if retry, self.machine.retryAfterResponse() {
                let grpcStatus = head.fields.first("grpc-status").flatMap { Int($0) }
                self.settleAttempt(RouteOutcome(status: head.status, grpcStatus: grpcStatus, error: nil))
                self.upstream?.release(reusable: false)
                self.upstream = nil
                self.responseTimer?.cancel()
                self.responseTimer = nil
                self.chosen?.load?.abandoned()
                self.chosen?.load = nil
                self.attemptAgain()
                return
            }
        }
        switch self.machine.responseHead(status: head.status, endStream: endStream) {
        case .forwardInformational:
            downstream.writeResponseHead(head, endStream: false)
        case .forward(let endStream):
            self.responseTimer?.cancel()
            self.responseTimer = nil
            self.responseStatus = head.status
            head.fields.removeConnectionFields()
            if self.upstreamIsHTTP2, let status = head.fields.first("grpc-status") { self.grpcStatus = Int(status) }
            downstream.writeResponseHead(head, endStream: endStream)
            if endStream { self.responseComplete(requestComplete: self.machine.requestEnded) }
        case .switchProtocols:
            self.responseTimer?.cancel()
            self.responseTimer = nil
            self.responseStatus = 101
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
        if self.idleTimeout != nil { self.lastActivity = self.eventLoop.now }
        guard self.machine.responseBody() == .forward, let downstream = self.downstream else { return }
        downstream.writeResponseBody(bytes)
        if !downstream.isWritable { self.upstream?.pauseResponse(true) }
    }

    func responseEndReceived(_ trailers: HTTPFields?) {
        guard case .forward(let requestComplete) = self.machine.responseEnd() else { return }
        if self.upstreamIsHTTP2, let status = trailers?.first("grpc-status") { self.grpcStatus = Int(status) }
        self.downstream?.writeResponseEnd(trailers)
        self.responseComplete(requestComplete: requestComplete)
    }

    /// The upstream read a batch: what went downstream meanwhile is flushed once.
    func responseReadComplete() {
        self.downstream?.flushResponse()
    }

    private func responseComplete(requestComplete: Bool) {
        let upstream = self.upstream
        self.upstream = nil
        // An upstream whose request was not all sent cannot carry another one.
        upstream?.release(reusable: requestComplete)
        self.finish(requestComplete: requestComplete)
    }
}
