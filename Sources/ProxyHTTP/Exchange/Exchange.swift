import Logging
import NIOCore
import ProxyCore
import ProxyTransport

/// One request and its response, driven: the pure `ExchangeStateMachine` decides, this class performs what it
/// decides against the two edges (an `ExchangeDownstream`, an `ExchangeUpstream`), asks the stages of its path,
/// and sends each attempt through its balancer and the endpoint client. It reads the clock in one place (`now`) and
/// keeps one timer, at the machine's next deadline.
///
/// Loop-bound. The downstream holds the exchange while it runs and the exchange holds both edges; `finish` breaks
/// the cycle.
public final class Exchange {
    let connection: ConnectionContext
    var downstream: (any ExchangeDownstream)?
    var upstream: (any ExchangeUpstream)?
    var machine: ExchangeStateMachine
    /// The request as it goes upstream: connection-specific fields removed, the proxy's own added. Stages may change
    /// it in `request(_:)`.
    public var request: HTTPRequestHead
    /// How the request's body is delimited, as the client sent it.
    public let requestBody: BodyFraming
    /// The stages' per-exchange state, each under its own `StageSlot`.
    public var slots = StageSlots()
    /// The chains the request goes through, and how far it got.
    var path = ExchangePath(nil)
    /// The attempt in flight (or the last one).
    var attempt = ExchangeAttempt()
    /// How the exchange ended, so far.
    var outcome = ExchangeOutcome()
    /// The one timer, armed at the machine's next deadline.
    var timer: (task: Scheduled<Void>, deadline: NIODeadline)?
    /// Copies of this request going to mirror backends, or this exchange being one.
    var mirroring = Mirroring.none
    let started: NIODeadline
    var isFinished = false

    init(connection: ConnectionContext, downstream: any ExchangeDownstream, head: HTTPRequestHead, body: BodyFraming, upgrade: Bool) {
        self.connection = connection
        self.downstream = downstream
        self.request = head
        self.requestBody = body
        self.started = connection.eventLoop.now
        self.machine = ExchangeStateMachine(configuration: connection.exchangeConfiguration, upgrade: upgrade)
    }

    /// The loop's clock: the one place the exchange reads it.
    public var now: NIODeadline { self.connection.eventLoop.now }
    public var eventLoop: EventLoop { self.connection.eventLoop }
    public var elapsedNanoseconds: Int64 { (self.now - self.started).nanoseconds }
    /// Attempts made on upstreams so far.
    public var attempts: Int { self.machine.attempts }
    public var direction: TrafficDirection { self.connection.direction }
    var endpoints: EndpointClient { self.connection.resources.endpoints }
    /// The request asks to switch protocols (HTTP/1 `Upgrade`, or `CONNECT`).
    var upgrade: Bool { self.machine.upgradeRequested }
    /// The response status the exchange ended with (0 before one): the upstream's, or the proxy's own.
    public var responseStatus: Int { self.outcome.status }
    /// `grpc-status`, from the response's head (trailers-only) or trailers.
    public var grpcStatus: Int? { self.outcome.grpcStatus }
    /// The error the proxy answered the client with, when it did.
    public var localError: ProxyError? { self.outcome.localError }
    /// Why the proxy answered the request itself, when it did (tap's `proxy_answered`): the error's code
    /// (`no_endpoints`, `request_timeout`, `circuit_open`, …) or the stage's kind (`fault`, `redirect`).
    public var proxyAnswered: String? { self.outcome.localError?.code.label ?? self.outcome.answeredBy }
    /// Bytes of response body sent to the client so far.
    public var responseBytes: Int { self.outcome.responseBytes }
    /// The response's trailers, when it had some.
    public var responseTrailers: HTTPFields? { self.outcome.trailers }
    /// The response went to the client whole; false when it was cut (a reset, the client gone, an upstream failing
    /// mid-body).
    public var responseCompleted: Bool { self.outcome.completed }
    /// The labels of the route and backend that served the request (tap's `route_meta`).
    public var routeLabels: [MetricLabel] { self.path.labels }
    /// The client's address, when the connection has one (not for a Unix socket).
    public var source: HostPort? {
        if let known = self.connection.peerHostPort { return known }
        let made = self.connection.peer.flatMap(HostPort.init)
        self.connection.peerHostPort = made
        return made
    }
    /// The destination Service's own labels (`dst_namespace`, `dst_service`) as discovery gives them, for a request
    /// answered before any endpoint was chosen (tap matches `--to svc/…` on them). Empty when discovery has none.
    public var serviceLabels: [MetricLabel] {
        guard case .discovered(let destination, _)? = self.path.balancer?.source else { return [] }
        return destination.serviceLabels
    }
    /// What a stage kept on the connection from an earlier request (`ConnectionContext.stageMemo`).
    public var connectionMemo: AnyObject? {
        get { self.connection.stageMemo }
        set { self.connection.stageMemo = newValue }
    }
    /// When the request arrived.
    public var startedAt: NIODeadline { self.started }
    /// The connection's `tls` label (inbound: the client's identity).
    public var connectionTLS: TLSLabel { self.connection.tls }
    public var isHTTP2Downstream: Bool { self.connection.isHTTP2 }

    /// Whether the request could be sent again now: its body is all kept, and no response went downstream.
    public var canReplay: Bool { self.machine.canRetry }
    /// The request's body outgrew what is kept for a replay.
    public var bodyTooLargeToReplay: Bool { self.machine.bodyTooLargeToRetry }

    /// A gRPC call (over HTTP/2, `content-type: application/grpc…`): the proxy answers it in gRPC's terms.
    public var isGRPC: Bool {
        guard self.connection.isHTTP2, let type = self.request.fields.first("content-type") else { return false }
        return type.utf8.starts(with: "application/grpc".utf8)
    }

    // MARK: the request, from the downstream

    func requestBodyReceived(_ bytes: ByteBuffer) {
        if self.machine.watchesIdle { self.machine.activity(now: self.now) }
        if case .original = self.mirroring { self.feedMirrors(body: bytes, end: false, trailers: nil) }
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
        if case .original = self.mirroring { self.feedMirrors(body: nil, end: true, trailers: trailers) }
        switch self.machine.requestEnd(trailers, now: self.now) {
        case .forward:
            self.upstream?.writeRequestEnd(trailers)
            self.armTimer()
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
        case .routing, .awaitingEndpoints, .backingOff, .connecting: return self.machine.isBelowBufferLimit
        case .awaitingResponse, .responding: return self.upstream?.isWritable ?? true
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
        self.endpoints.abandon(&self.attempt)
        self.upstream?.release(reusable: false)
        self.upstream = nil
        self.downstream = nil
        self.finish()
    }

    // MARK: finishing

    /// Answers the client with `error` (the machine already decided to): its status and `swiftlet-proxy-error`, or
    /// a gRPC status for a gRPC call.
    func answer(with error: ProxyError) {
        self.outcome.localError = error
        if case .copy = self.mirroring {
            self.respondLocally(LocalResponse(head: HTTPResponseHead(status: error.code.httpStatus), body: nil))
            return
        }
        self.connection.resources.metrics.recordHTTPError(self.direction, error.code)
        self.connection.logger.debug("answering with an error", metadata: ["direction": "\(self.direction.label)", "error": "\(error)"])
        self.respondLocally(.error(error, grpc: self.isGRPC))
    }

    /// A response made by the proxy (an error, or a stage's answer), written whole.
    func respondLocally(_ response: LocalResponse) {
        self.outcome.status = response.head.status
        if let grpcStatus = response.head.fields.first("grpc-status") { self.outcome.grpcStatus = Int(grpcStatus) }
        if let downstream = self.downstream {
            let hasBody = (response.body?.readableBytes ?? 0) > 0 && !self.request.isHEAD
            downstream.writeResponseHead(response.head, endStream: !hasBody)
            if hasBody, let body = response.body {
                self.outcome.responseBytes = body.readableBytes
                downstream.writeResponseBody(body)
                downstream.writeResponseEnd(nil)
            }
            downstream.flushResponse()
        }
        self.outcome.completed = true
        self.finish(requestComplete: self.machine.requestEnded)
    }

    /// The exchange is over. `requestComplete` is false when the response ended first: the downstream reads and
    /// drops the rest of the request (HTTP/1) or resets its side of the stream (HTTP/2).
    func finish(requestComplete: Bool = true) {
        guard !self.isFinished else { return }
        self.isFinished = true
        self.timer?.task.cancel()
        self.timer = nil
        if self.outcome.localError == nil, self.outcome.status > 0, self.machine.responseStarted {
            self.settleAttempt(RouteOutcome(status: self.outcome.status, grpcStatus: self.outcome.grpcStatus, error: nil))
        }
        if self.attempt.endpoint?.load != nil {
            let now = self.now
            self.endpoints.finish(&self.attempt, rttNanoseconds: UInt64(max((now - self.started).nanoseconds, 0)), now: now)
        }
        self.path.forEachReversed { $0.finished(self) }
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
