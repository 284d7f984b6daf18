import Logging
import NIOCore
import ProxyCore
import ProxyTransport

/// One request and its response, driven: the pure `ExchangeStateMachine` decides, this class performs what it
/// decides against the two edges (an `ExchangeDownstream`, an `ExchangeUpstream`) and runs the destination's stages.
///
/// Loop-bound. The downstream holds the exchange while it runs and the exchange holds both edges; `finish` breaks
/// the cycle.
public final class Exchange {
    let connection: HTTPConnection
    var downstream: (any ExchangeDownstream)?
    var upstream: (any ExchangeUpstream)?
    var machine: ExchangeStateMachine

    /// The request as it goes upstream: connection-specific fields removed, the proxy's own added. Stages may change
    /// it in `request(_:)`.
    public var request: HTTPRequestHead
    /// How the request's body is delimited, as the client sent it.
    public let requestBody: BodyFraming
    /// The request asks to switch protocols (HTTP/1 `Upgrade`, or `CONNECT`).
    let upgrade: Bool

    /// Set by a stage that may retry: the body (up to 64 KiB) is kept so the request can be sent again.
    public var retainBody = false
    /// The response status the exchange ended with (0 before one): the upstream's, or the proxy's own error's.
    public internal(set) var responseStatus = 0
    /// `grpc-status`, from the response's head (trailers-only) or trailers.
    public internal(set) var grpcStatus: Int?
    /// The series this exchange counts in (the metrics stage sets it once the endpoint is known).
    public var metrics: RequestMetrics?
    /// Per-exchange state of stages that need some, by the stage's identity.
    public var stageState: [ObjectIdentifier: Any] = [:]
    /// The endpoint of the current attempt.
    public internal(set) var chosen: ChosenEndpoint?
    /// What the route stage decided for this request (`nil` without a policy): the other policy stages read it.
    public var routed: RoutedExchange?
    /// How long to wait before the retry a stage asked for (backoff); taken when the retry starts.
    public var retryDelay: TimeAmount?
    var idleTimer: Scheduled<Void>?
    /// With an idle timeout: when a part of the request or the response last passed.
    var idleTimeout: TimeAmount?
    var lastActivity = NIODeadline.uptimeNanoseconds(0)

    /// The attempt's outcome went to failure accrual already.
    var attemptSettled = false
    /// The endpoint of the last attempt that failed: a retry avoids it when it can.
    var failedEndpoint: HostPort?
    /// When the current attempt was sent to its endpoint.
    var attemptStarted: NIODeadline?
    /// The error the proxy answered the client with, when it did.
    public internal(set) var localError: ProxyError?
    /// Copies of this request going to mirror backends (RequestMirror).
    var mirrors: [Exchange] = []
    /// This exchange is such a copy: nobody waits for it, and its failures are not the proxy's errors.
    var isMirror = false
    var mirroredBytes = 0

    let started: NIODeadline
    var chain: StageChain?
    /// The destination discovery gave the request, when it did.
    var destination: LoopDestination?
    var destinationKey: String?
    var upstreamIsHTTP2 = false
    var responseTimer: Scheduled<Void>?
    var discoveryTimer: Scheduled<Void>?
    /// A stage's wait (see `StageDecision.suspend`), a retry's backoff.
    var stageTimer: Scheduled<Void>?
    var requestTimer: Scheduled<Void>?
    /// The stage to ask again when a suspended chain resumes.
    var stageIndex = 0
    /// The response head arrived with its end (HTTP/2 `END_STREAM`): no body or trailers follow.
    var responseFraming = BodyFraming.stream
    var isFinished = false

    init(connection: HTTPConnection, downstream: any ExchangeDownstream, head: HTTPRequestHead, body: BodyFraming, upgrade: Bool) {
        self.connection = connection
        self.downstream = downstream
        self.request = head
        self.requestBody = body
        self.upgrade = upgrade
        self.started = connection.eventLoop.now
        self.machine = ExchangeStateMachine(configuration: connection.exchangeConfiguration, upgrade: upgrade)
    }

    public var elapsedNanoseconds: Int64 { (self.eventLoop.now - self.started).nanoseconds }
    /// Attempts made on upstreams so far.
    public var attempts: Int { self.machine.attempts }
    public var direction: TrafficDirection { self.connection.direction }
    var eventLoop: EventLoop { self.connection.eventLoop }

    // MARK: the request, from the downstream

    func requestBodyReceived(_ bytes: ByteBuffer) {
        if self.idleTimeout != nil { self.lastActivity = self.eventLoop.now }
        if !self.mirrors.isEmpty { self.feedMirrors(body: bytes, end: false, trailers: nil) }
        switch self.machine.requestBody(bytes) {
        case .forward:
            guard let upstream = self.upstream else { return }
            upstream.writeRequestBody(bytes)
            if !upstream.isWritable { self.downstream?.pauseRequest(true) }
        case .hold(let pause):
            if pause { self.downstream?.pauseRequest(true) }
        case .discard:
            break
        }
    }

    func requestEndReceived(_ trailers: HTTPFields?) {
        if !self.mirrors.isEmpty { self.feedMirrors(body: nil, end: true, trailers: trailers) }
        switch self.machine.requestEnd(trailers, now: self.eventLoop.now) {
        case .forward:
            self.upstream?.writeRequestEnd(trailers)
            self.armResponseTimer()
        case .hold, .discard:
            break
        case .finish:
            self.finish()
        }
    }

    /// The downstream read a batch: what went upstream meanwhile is flushed once.
    func requestReadComplete() {
        self.upstream?.flushRequest()
    }

    /// Whether the downstream may read more of the request now.
    var wantsRequestBytes: Bool {
        switch self.machine.phase {
        case .waitingForTarget, .connecting: return self.machine.isBelowBufferLimit
        case .streaming: return self.upstream?.isWritable ?? true
        case .draining, .finished: return true
        }
    }

    func downstreamWritable() {
        self.upstream?.pauseResponse(false)
    }

    /// The client went away (its connection closed, its stream was reset).
    func downstreamClosed() {
        guard !self.isFinished else { return }
        self.machine.downstreamClosed()
        self.chosen?.load?.abandoned()
        self.chosen?.load = nil
        self.upstream?.release(reusable: false)
        self.upstream = nil
        self.downstream = nil
        self.finish()
    }

    // MARK: the upstream

    func upstreamReady(_ upstream: any ExchangeUpstream) {
        switch self.machine.upstreamReady(reused: upstream.isReused, now: self.eventLoop.now) {
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
            self.armResponseTimer()
            self.downstream?.pauseRequest(!self.wantsRequestBytes)
        }
    }

    func upstreamWritable() {
        self.downstream?.pauseRequest(!self.wantsRequestBytes)
    }


    func upstreamFailed(_ error: ProxyError) {
        guard !self.isFinished else { return }
        if !self.machine.responseStarted { self.settleAttempt(RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label)) }
        let stageRetries = self.chain.map { chain in chain.stages.reversed().contains { $0.failure(error, self) == .retry } } ?? false
        let action = self.machine.upstreamFailed(error, stageRetries: stageRetries)
        self.upstream?.release(reusable: false)
        self.upstream = nil
        self.responseTimer?.cancel()
        self.responseTimer = nil
        switch action {
        case .retry:
            self.chosen?.load?.abandoned()
            self.chosen?.load = nil
            self.attemptAgain()
        case .respond(let error):
            self.answer(with: Self.exhausted(error, retries: self.routed?.retries ?? 0))
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

    func armResponseTimer() {
        guard let deadline = self.machine.responseDeadline, self.responseTimer == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.responseTimer = self.eventLoop.scheduleTask(deadline: deadline) {
            let exchange = bound.value
            exchange.responseTimer = nil
            // An attempt that timed out fails like any other: a retry policy may try again.
            if let error = exchange.machine.overdueResponse(now: exchange.eventLoop.now) { exchange.upstreamFailed(error) }
        }
    }

    /// The route's `request` timeout: from now, the whole exchange (retries included) must have answered within
    /// `timeout` — 504 before the response began, the response cut after.
    public func setRequestTimeout(_ timeout: TimeAmount) {
        self.requestTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.requestTimer = self.eventLoop.scheduleTask(in: timeout) {
            let exchange = bound.value
            exchange.requestTimer = nil
            guard !exchange.isFinished else { return }
            exchange.timedOut(ProxyError(.requestTimeout, "no response within \(timeout.nanoseconds / 1_000_000)ms"))
        }
    }

    /// The route's `idle` timeout: the exchange ends when nothing of the request or the response moved for
    /// `timeout` (504 `idle_timeout` before the response began, the response cut after).
    public func setIdleTimeout(_ timeout: TimeAmount) {
        self.idleTimeout = timeout
        self.lastActivity = self.eventLoop.now
        self.armIdleTimer(at: self.lastActivity + timeout)
    }

    private func armIdleTimer(at deadline: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.idleTimer = self.eventLoop.scheduleTask(deadline: deadline) {
            let exchange = bound.value
            exchange.idleTimer = nil
            guard !exchange.isFinished, let timeout = exchange.idleTimeout else { return }
            // Activity only moves a timestamp; the timer checks it when it fires and waits again if need be.
            let due = exchange.lastActivity + timeout
            guard exchange.eventLoop.now >= due else {
                exchange.armIdleTimer(at: due)
                return
            }
            exchange.timedOut(ProxyError(.idleTimeout, "nothing moved for \(timeout.nanoseconds / 1_000_000)ms"))
        }
    }

    /// A bound on the whole exchange ran out: the attempt ends, and the client gets the error or a cut response.
    func timedOut(_ error: ProxyError) {
        switch self.machine.timedOut(error) {
        case .respond(let error):
            self.stageTimer?.cancel()
            self.stageTimer = nil
            self.settleAttempt(RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label))
            self.chosen?.load?.abandoned()
            self.chosen?.load = nil
            self.upstream?.release(reusable: false)
            self.upstream = nil
            self.answer(with: error)
        case .abortDownstream:
            self.upstream?.release(reusable: false)
            self.upstream = nil
            self.downstream?.abortResponse()
            self.finish()
        case .retry, .none:
            break
        }
    }

    /// Runs `body` after `delay` on the exchange's loop, unless the exchange finished meanwhile (one at a time: a
    /// stage's wait, a retry's backoff).
    public func schedule(after delay: TimeAmount, _ body: @escaping (Exchange) -> Void) {
        self.stageTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.stageTimer = self.eventLoop.scheduleTask(in: delay) {
            let exchange = bound.value
            exchange.stageTimer = nil
            guard !exchange.isFinished else { return }
            body(exchange)
        }
    }

    /// The current attempt's outcome, told once to failure accrual and to the backend's route metrics.
    func settleAttempt(_ outcome: RouteOutcome) {
        guard !self.attemptSettled, self.chosen != nil else { return }
        self.attemptSettled = true
        // Plain traffic (no route series, no balancer) records nothing: no clock read either.
        guard self.routed?.backendSeries != nil || self.chosen?.load != nil else { return }
        let now = self.eventLoop.now
        if let series = self.routed?.backendSeries, let started = self.attemptStarted {
            series.record(outcome, seconds: Double((now - started).nanoseconds) / 1e9)
        }
        guard let load = self.chosen?.load else { return }
        let failed = outcome.error != nil || Self.isFailure(status: outcome.status ?? 0, grpcStatus: outcome.grpcStatus)
        if failed { self.failedEndpoint = load.endpoint.address }
        load.recordOutcome(failed: failed, now: Int64(truncatingIfNeeded: now.uptimeNanoseconds))
    }

    /// Whether a response counts as a failure for failure accrual: a 5xx, or a gRPC status that says the server
    /// failed (DATA_LOSS, DEADLINE_EXCEEDED, INTERNAL, PERMISSION_DENIED, UNAVAILABLE).
    static func isFailure(status: Int, grpcStatus: Int?) -> Bool {
        if status >= 500 { return true }
        switch grpcStatus {
        case 4?, 7?, 13?, 14?, 15?: return true
        default: return false
        }
    }

    // MARK: finishing

    /// Answers the client with `error` (the machine already decided to): status, `swiftlet-proxy-error`, a line of
    /// text.
    func answer(with error: ProxyError) {
        self.localError = error
        guard !self.isMirror else {
            self.respondLocally(HTTPResponseHead(status: error.code.httpStatus, fields: HTTPFields()), body: nil)
            return
        }
        self.connection.resources.metrics.recordHTTPError(self.direction, error.code)
        self.connection.logger.debug("answering with an error", metadata: ["direction": "\(self.direction.label)", "error": "\(error)"])
        if self.isGRPC {
            self.respondGRPC(status: error.grpcStatus, message: error.description, proxyError: error.headerValue)
            return
        }
        let body = ByteBuffer(string: "\(error.description)\n")
        var fields = HTTPFields()
        fields.add("content-type", "text/plain; charset=utf-8")
        fields.add("content-length", String(body.readableBytes))
        fields.add("swiftlet-proxy-error", error.headerValue)
        self.respondLocally(HTTPResponseHead(status: error.code.httpStatus, fields: fields), body: body)
    }

    /// A gRPC call (over HTTP/2, `content-type: application/grpc…`): the proxy answers it in gRPC's terms.
    public var isGRPC: Bool {
        guard self.connection.isHTTP2, let type = self.request.fields.first("content-type") else { return false }
        return type.utf8.starts(with: "application/grpc".utf8)
    }

    /// A trailers-only gRPC answer: status 200, `grpc-status` and `grpc-message` in the one head.
    func respondGRPC(status: Int, message: String, proxyError: String?) {
        var fields = HTTPFields()
        fields.add("content-type", "application/grpc")
        fields.add("grpc-status", String(status))
        fields.add("grpc-message", Self.percentEncoded(message))
        if let proxyError { fields.add("swiftlet-proxy-error", proxyError) }
        self.grpcStatus = status
        self.respondLocally(HTTPResponseHead(status: 200, fields: fields), body: nil)
    }

    /// `grpc-message` is percent-encoded (gRPC over HTTP/2): everything outside printable ASCII, and `%`.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                result += "%"
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return result
    }

    /// A response made by the proxy (an error, or a stage's answer), written whole.
    func respondLocally(_ head: HTTPResponseHead, body: ByteBuffer?) {
        self.responseStatus = head.status
        if let downstream = self.downstream {
            let hasBody = (body?.readableBytes ?? 0) > 0 && !self.request.isHEAD
            downstream.writeResponseHead(head, endStream: !hasBody)
            if hasBody, let body {
                downstream.writeResponseBody(body)
                downstream.writeResponseEnd(nil)
            }
            downstream.flushResponse()
        }
        self.finish(requestComplete: self.machine.requestEnded)
    }

    /// The exchange is over. `requestComplete` is false when the response ended first: the downstream reads and
    /// drops the rest of the request (HTTP/1) or resets its side of the stream (HTTP/2).
    func finish(requestComplete: Bool = true) {
        guard !self.isFinished else { return }
        self.isFinished = true
        self.responseTimer?.cancel()
        self.responseTimer = nil
        self.discoveryTimer?.cancel()
        self.discoveryTimer = nil
        self.stageTimer?.cancel()
        self.stageTimer = nil
        self.requestTimer?.cancel()
        self.requestTimer = nil
        self.idleTimer?.cancel()
        self.idleTimer = nil
        if self.chosen != nil, !self.attemptSettled, self.localError == nil, self.machine.responseStarted, self.responseStatus > 0 {
            self.settleAttempt(RouteOutcome(status: self.responseStatus, grpcStatus: self.grpcStatus, error: nil))
        }
        if let load = self.chosen?.load {
            let now = self.eventLoop.now
            load.finished(rttNanoseconds: UInt64(max((now - self.started).nanoseconds, 0)), now: now.uptimeNanoseconds)
            self.chosen?.load = nil
        }
        if let chain = self.chain {
            for stage in chain.stages.reversed() { stage.finished(self) }
        }
        let downstream = self.downstream
        self.downstream = nil
        downstream?.exchangeFinished(requestComplete: requestComplete)
    }

    /// The `tls` label of traffic to `target`: the connection's own, or mTLS with the server's identity.
    public func tlsLabel(_ target: TrafficTarget) -> TLSLabel {
        guard let identity = target.identity else { return self.connection.tls }
        return .established(clientID: nil, serverID: identity)
    }
}

@available(*, unavailable)
extension Exchange: Sendable {}

/// How a message's body is delimited where it came from: the next hop frames it again from this.
public enum BodyFraming: Equatable, Sendable {
    /// No body at all (an HTTP/1 message without length, an HTTP/2 `HEADERS` with `END_STREAM`).
    case none
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// A body of unknown length (chunked, or HTTP/2 `DATA` frames without a `content-length`).
    case stream
}
