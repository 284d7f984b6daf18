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

    let started: NIODeadline
    var chain: StageChain?
    /// The destination discovery gave the request, when it did.
    var destination: LoopDestination?
    var destinationKey: String?
    var upstreamIsHTTP2 = false
    var responseTimer: Scheduled<Void>?
    var discoveryTimer: Scheduled<Void>?
    /// The response head arrived with its end (HTTP/2 `END_STREAM`): no body or trailers follow.
    var responseFraming = BodyFraming.stream
    var isFinished = false

    init(connection: HTTPConnection, downstream: any ExchangeDownstream, head: HTTPRequestHead, body: BodyFraming, upgrade: Bool) {
        self.connection = connection
        self.downstream = downstream
        self.request = head
        self.requestBody = body
        self.upgrade = upgrade
        self.started = .now()
        self.machine = ExchangeStateMachine(configuration: connection.exchangeConfiguration, upgrade: upgrade)
    }

    public var elapsedNanoseconds: Int64 { (NIODeadline.now() - self.started).nanoseconds }
    /// Attempts made on upstreams so far.
    public var attempts: Int { self.machine.attempts }
    public var direction: TrafficDirection { self.connection.direction }
    var eventLoop: EventLoop { self.connection.eventLoop }

    // MARK: the request, from the downstream

    func requestBodyReceived(_ bytes: ByteBuffer) {
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
        switch self.machine.requestEnd(trailers, now: .now()) {
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
        switch self.machine.upstreamReady(reused: upstream.isReused, now: .now()) {
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
            self.attempt()
        case .respond(let error):
            self.answer(with: error)
        case .abortDownstream:
            self.downstream?.abortResponse()
            self.finish()
        case .none:
            break
        }
    }

    func armResponseTimer() {
        guard let deadline = self.machine.responseDeadline, self.responseTimer == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.responseTimer = self.eventLoop.scheduleTask(deadline: deadline) {
            let exchange = bound.value
            exchange.responseTimer = nil
            if case .respond(let error) = exchange.machine.timerFired(now: .now()) {
                exchange.upstream?.release(reusable: false)
                exchange.upstream = nil
                exchange.answer(with: error)
            }
        }
    }

    // MARK: finishing

    /// Answers the client with `error` (the machine already decided to): status, `swiftlet-proxy-error`, a line of
    /// text.
    func answer(with error: ProxyError) {
        self.connection.resources.metrics.recordHTTPError(self.direction, error.code)
        self.connection.logger.debug("answering with an error", metadata: ["direction": "\(self.direction.label)", "error": "\(error)"])
        let body = ByteBuffer(string: "\(error.description)\n")
        var fields = HTTPFields()
        fields.add("content-type", "text/plain; charset=utf-8")
        fields.add("content-length", String(body.readableBytes))
        fields.add("swiftlet-proxy-error", error.headerValue)
        self.respondLocally(HTTPResponseHead(status: error.code.httpStatus, fields: fields), body: body)
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
        if let load = self.chosen?.load {
            let now = NIODeadline.now()
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
