import NIOCore
import ProxyCore
import ProxyTransport

/// Each attempt: the balancer's pick, the endpoint client's connection, and how the attempt ends — sent on, failed,
/// or tried again.
extension Exchange {
    /// Picks an endpoint and opens an upstream to it (again, for a retry).
    func attemptNow() {
        guard let balancer = self.path.balancer else {
            if case .respond(let error) = self.machine.respond(ProxyError(.noRoute, "no balancer for the request")) {
                self.answer(with: error)
            }
            return
        }
        let timed = balancer.needsClock || self.path.timesAttempts
        let now = timed ? self.now : nil
        let chosen: ChosenEndpoint
        do throws(ProxyError) {
            chosen = try balancer.pick(for: self, avoiding: self.attempt.failed, now: now?.uptimeNanoseconds ?? 0)
        } catch {
            if case .respond(let error) = self.machine.respond(error) { self.answer(with: error) }
            return
        }
        if let identity = chosen.target.identity, let refusal = self.endpoints.refusal(identity: identity, endpoint: chosen.target.endpoint)
        {
            chosen.load?.abandoned()
            if case .respond(let error) = self.machine.respond(refusal) { self.answer(with: error) }
            return
        }
        self.attempt.endpoint = chosen
        self.attempt.settled = false
        self.attempt.started = now
        self.path.forEach { $0.attemptStarted(chosen, self) }
        if self.request.authority == nil { self.request.authority = chosen.target.authority }
        self.attempt.http2 = self.chooseHTTP2Upstream(chosen.target)
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.endpoints.open(chosen.target, http2: self.attempt.http2, direction: self.direction, tls: self.tlsLabel(chosen.target)) {
            result in
            let exchange = bound.value
            switch result {
            case .success(let upstream):
                guard !exchange.isFinished else {
                    upstream.release(reusable: true)
                    return
                }
                exchange.upstreamReady(upstream)
            case .failure(let error):
                exchange.upstreamFailed(error)
            }
        }
    }

    /// Whether the request goes upstream over HTTP/2. HTTP/2 stays HTTP/2 (gRPC needs it end to end), except a
    /// request the peer proxy marked as HTTP/1.1; HTTP/1.1 to a meshed peer is carried over its multiplexed mTLS
    /// connection (upgrades excepted: `Upgrade` has no HTTP/2 form), and marked so the peer turns it back.
    func chooseHTTP2Upstream(_ target: TrafficTarget) -> Bool {
        let wasHTTP1 = self.request.fields.contains(Self.originalProtocolHeader)
        if wasHTTP1 { self.request.fields.remove(Self.originalProtocolHeader) }
        if self.connection.isHTTP2 {
            return !(wasHTTP1 && self.direction == .inbound)
        }
        guard target.identity != nil, !self.upgrade else { return false }
        self.request.fields.add(Self.originalProtocolHeader, "HTTP/1.1")
        return true
    }

    func upstreamReady(_ upstream: any ExchangeUpstream) {
        switch self.machine.upstreamReady(reused: upstream.isReused, now: self.now) {
        case .release:
            upstream.release(reusable: true)
        case .send(let parts):
            self.upstream = upstream
            upstream.attach(self)
            // Whether a body follows is the client's framing, not a matter of timing: a bodiless request's head
            // ends its stream even when the request's end has not been read yet.
            upstream.writeRequestHead(self.request, endStream: self.requestBody == .none)
            for part in parts {
                switch part {
                case .body(let bytes): upstream.writeRequestBody(bytes)
                case .end(let trailers): upstream.writeRequestEnd(trailers)
                }
            }
            upstream.flushRequest()
            self.armTimer()
            self.downstream?.pauseRequest(!self.wantsRequestBytes)
        }
    }

    func upstreamWritable() {
        self.downstream?.pauseRequest(!self.wantsRequestBytes)
    }

    func upstreamFailed(_ error: ProxyError) {
        guard !self.isFinished else { return }
        if !self.machine.responseStarted { self.settleAttempt(RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label)) }
        let verdict = self.path.verdict { $0.failure(error, self) }
        let retryAfter: TimeAmount? = if case .retry(let delay) = verdict { delay } else { nil }
        let action = self.machine.upstreamFailed(error, retryAfter: retryAfter, now: self.now)
        self.upstream?.release(reusable: false)
        self.upstream = nil
        switch action {
        case .retry(let now):
            if retryAfter != nil { self.attempt.retries += 1 }
            self.endpoints.abandon(&self.attempt)
            self.retry(now: now)
        case .respond(let error):
            self.answer(with: Self.exhausted(error, retries: self.attempt.retries))
        case .abortDownstream:
            self.downstream?.abortResponse()
            self.finish()
        case .none:
            break
        }
    }

    /// A connection failure the route retried until it could not: the backend is unavailable (503), not
    /// misbehaving. Without retries the failure stays what it was (502 for a refused or reset connection).
    static func exhausted(_ error: ProxyError, retries: Int) -> ProxyError {
        guard retries > 0 else { return error }
        switch error.code {
        case .connectionRefused, .connectionReset, .connectTimeout, .upstreamFailed, .tlsHandshake:
            return ProxyError(.retriesExhausted, "\(error.description) (and on \(retries) \(retries == 1 ? "retry" : "retries"))")
        default:
            return error
        }
    }

    /// The request goes again: now, or once the backoff the machine keeps is over.
    func retry(now: Bool) {
        guard now else {
            self.armTimer()
            return
        }
        self.attemptNow()
    }

    /// The current attempt's outcome, told once to the stages (a backend's series) and to the endpoint client
    /// (failure accrual). Plain traffic (nothing times its attempts) records nothing: no clock read either.
    func settleAttempt(_ outcome: RouteOutcome) {
        guard !self.attempt.settled, self.attempt.endpoint != nil else { return }
        self.attempt.settled = true
        guard let started = self.attempt.started else { return }
        let now = self.now
        let nanoseconds = (now - started).nanoseconds
        self.path.forEachReversed { $0.attemptEnded(outcome, nanoseconds: nanoseconds, self) }
        self.endpoints.settle(&self.attempt, outcome, now: now)
    }
}
