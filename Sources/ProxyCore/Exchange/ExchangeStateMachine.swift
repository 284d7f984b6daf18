import NIOCore

/// One request and its response, as pure logic: what the proxy does next given what just happened on either side,
/// at the stages, or on the clock.
///
/// The driver (`Exchange`) translates what its edges and stages say into the events here and performs the actions
/// returned; nothing here knows the wire protocols, the sockets or the stages. Time comes with the events that need
/// it, and every timer is a deadline this machine keeps: the driver arms one timer at `nextDeadline` and reports
/// `timerFired(now:)`, as SwiftNIO's and Hummingbird's state machines take their clock.
///
/// The phase carries its own data (a wait's deadline, the attempt's state), so the state cannot disagree with
/// itself: the request side (`receiving` or `complete`), the body kept for a replay, and the exchange's bounds are
/// the only other state.
public struct ExchangeStateMachine: Sendable {
    public struct Configuration: Sendable {
        /// From the request sent to the response head; `nil` waits forever.
        public var responseTimeout: TimeAmount?
        /// Request bytes held while no upstream is ready; reading pauses past it.
        public var bufferLimit: Int
        /// Body bytes kept for a retry, when a stage asks; a longer body makes the request not retryable.
        public var retainLimit: Int

        public init(responseTimeout: TimeAmount? = nil, bufferLimit: Int = 64 * 1024, retainLimit: Int = 64 * 1024) {
            self.responseTimeout = responseTimeout
            self.bufferLimit = bufferLimit
            self.retainLimit = retainLimit
        }
    }

    public enum Phase: Equatable, Sendable {
        /// The stages decide where the request goes, or answer it; `waitingUntil` while one of them waits (for a
        /// policy, an injected delay).
        case routing(waitingUntil: NIODeadline?)
        /// The balancer has no answer from discovery yet: the first attempt waits until `until` at most.
        case awaitingEndpoints(until: NIODeadline)
        /// A retry waits out its backoff.
        case backingOff(until: NIODeadline)
        /// An upstream connection or stream is being opened.
        case connecting
        /// The request goes to an upstream and the response has not begun.
        case awaitingResponse(Attempt)
        /// The response streams downstream; the request may still be streaming up.
        case responding
        /// The response is complete (or the proxy answered) and the request is not: the rest is read and dropped.
        case draining
        case finished
    }

    /// What the machine knows of the attempt in flight.
    public struct Attempt: Equatable, Sendable {
        /// The connection served exchanges before (the server may have closed it meanwhile).
        public var reused: Bool
        /// Body bytes went to this upstream: a replay could repeat what it consumed.
        public var bodySent: Bool
        /// When the response head must have come by; set once the request is all sent.
        public var responseDeadline: NIODeadline?
    }

    public enum RequestPart: Sendable {
        case body(ByteBuffer)
        case end(HTTPFields?)
    }

    enum RequestSide: Sendable {
        case receiving
        case complete(trailers: HTTPFields?)
    }

    /// The body as sent so far, for a replay.
    enum Replay: Sendable {
        /// No stage retries.
        case off
        case keeping([ByteBuffer], bytes: Int)
        /// The body outgrew the limit: the request cannot be sent again.
        case overflowed
    }

    /// The bounds a timeout stage set on the whole exchange.
    struct Bounds: Sendable {
        var request: (deadline: NIODeadline, timeout: TimeAmount)?
        var idle: (timeout: TimeAmount, lastActivity: NIODeadline)?
        /// Each attempt's own response timeout, in place of the configured one.
        var perTry: TimeAmount?
    }

    public let configuration: Configuration
    public private(set) var phase: Phase = .routing(waitingUntil: nil)
    var request = RequestSide.receiving
    var replay = Replay.off
    /// Request parts not yet sent to an upstream (an array: empty, it allocates nothing, and most requests never
    /// hold a part), and their bytes.
    var held: [RequestPart] = []
    var heldBytes = 0
    var bounds = Bounds()
    /// Attempts made on upstreams: 1 for the first, more after a replay or a retry.
    public private(set) var attempts = 0
    /// The one transparent replay (of a request a reused connection lost unread) was made.
    var replayed = false
    public let upgradeRequested: Bool

    public init(configuration: Configuration, upgrade: Bool = false) {
        self.configuration = configuration
        self.upgradeRequested = upgrade
    }

    public var requestEnded: Bool {
        if case .complete = self.request { return true }
        return false
    }

    /// A response (the upstream's or the proxy's own) began going downstream, or the exchange is over.
    public var responseStarted: Bool {
        switch self.phase {
        case .responding, .draining, .finished: return true
        default: return false
        }
    }

    /// When the attempt's response head must have come by, while the machine waits for one.
    public var responseDeadline: NIODeadline? {
        if case .awaitingResponse(let attempt) = self.phase { return attempt.responseDeadline }
        return nil
    }

    /// The body outgrew what is kept for a retry: the request cannot be retried.
    public var bodyTooLargeToRetry: Bool {
        if case .overflowed = self.replay { return true }
        return false
    }

    /// Whether the request may be sent again: its body is all kept (or none of it went anywhere) and nothing of a
    /// response went downstream.
    public var canRetry: Bool {
        switch self.phase {
        case .responding, .draining, .finished: return false
        case .awaitingResponse(let attempt):
            if case .keeping = self.replay { return true }
            return !attempt.bodySent && self.heldBytes == 0
        case .routing, .awaitingEndpoints, .backingOff, .connecting:
            if case .keeping = self.replay { return true }
            return self.heldBytes == 0
        }
    }

    // MARK: the request

    public mutating func requestBody(_ bytes: ByteBuffer) -> RequestPartAction {
        switch self.phase {
        case .routing, .awaitingEndpoints, .backingOff, .connecting:
            self.keep(bytes)
            self.held.append(.body(bytes))
            self.heldBytes += bytes.readableBytes
            return .hold(pause: self.heldBytes >= self.configuration.bufferLimit)
        case .awaitingResponse(var attempt):
            self.keep(bytes)
            if !attempt.bodySent {
                attempt.bodySent = true
                self.phase = .awaitingResponse(attempt)
            }
            return .forward
        case .responding:
            self.keep(bytes)
            return .forward
        case .draining, .finished:
            return .discard
        }
    }

    public mutating func requestEnd(_ trailers: HTTPFields?, now: NIODeadline) -> RequestEndAction {
        guard case .receiving = self.request else { return .discard }
        self.request = .complete(trailers: trailers)
        switch self.phase {
        case .routing, .awaitingEndpoints, .backingOff, .connecting:
            self.held.append(.end(trailers))
            return .hold
        case .awaitingResponse(var attempt):
            attempt.responseDeadline = self.responseTimeout.map { now + $0 }
            self.phase = .awaitingResponse(attempt)
            return .forward
        case .responding:
            return .forward
        case .draining:
            self.phase = .finished
            return .finish
        case .finished:
            return .discard
        }
    }

    private mutating func keep(_ bytes: ByteBuffer) {
        guard case .keeping(var kept, let total) = self.replay else { return }
        let bytesNow = total + bytes.readableBytes
        guard bytesNow <= self.configuration.retainLimit else {
            self.replay = .overflowed
            return
        }
        self.replay = .off  // the array is not shared while it grows
        kept.append(bytes)
        self.replay = .keeping(kept, bytes: bytesNow)
    }

    /// The timeout from a request sent to its response head: the attempt's own, else the configured one.
    var responseTimeout: TimeAmount? { self.bounds.perTry ?? self.configuration.responseTimeout }

    // MARK: the stages

    /// A stage waits for something (a first answer, an injected delay), until `deadline` at most.
    public mutating func stagesSuspended(until deadline: NIODeadline) {
        guard case .routing = self.phase else { return }
        self.phase = .routing(waitingUntil: deadline)
    }

    /// The stages run again (what a stage waited for came, or its time is up). False when the exchange is past
    /// routing (it was answered or cut meanwhile).
    public mutating func stagesResumed() -> Bool {
        guard case .routing = self.phase else { return false }
        self.phase = .routing(waitingUntil: nil)
        return true
    }

    /// A timeout stage bounds the exchange: the whole of it (`request`, from `started`), its quiet spells (`idle`,
    /// from `now`), and each try's wait for its response head (`perTry`).
    public mutating func bound(request: TimeAmount?, idle: TimeAmount?, perTry: TimeAmount?, started: NIODeadline, now: NIODeadline) {
        if let request { self.bounds.request = (started + request, request) }
        if let idle { self.bounds.idle = (idle, now) }
        if let perTry { self.bounds.perTry = perTry }
    }

    /// A stage answered the request itself: its response is the whole response, and nothing goes upstream. False
    /// when the exchange is past routing.
    public mutating func stageAnswered() -> Bool {
        guard case .routing = self.phase else { return false }
        self.answered()
        return true
    }

    /// The stages let the request go on; `replay` when one of them may try it again (its body is then kept).
    public mutating func stagesPassed(replay: Bool) {
        guard case .routing = self.phase else { return }
        if replay { self.startKeeping() }
        self.phase = .connecting
    }

    /// As `stagesPassed`, but the balancer waits for discovery's first answer first, until `deadline` at most.
    public mutating func stagesPassed(replay: Bool, awaitingEndpointsUntil deadline: NIODeadline) {
        guard case .routing = self.phase else { return }
        if replay { self.startKeeping() }
        self.phase = .awaitingEndpoints(until: deadline)
    }

    /// Discovery answered, or the wait for it is over: the first attempt goes. False when the exchange no longer
    /// waits for it.
    public mutating func endpointsAwaited() -> Bool {
        guard case .awaitingEndpoints = self.phase else { return false }
        self.phase = .connecting
        return true
    }

    /// What arrived so far has not gone anywhere yet: it is all still held, so it is all kept.
    private mutating func startKeeping() {
        var kept: [ByteBuffer] = []
        for case .body(let body) in self.held { kept.append(body) }
        self.replay = self.heldBytes <= self.configuration.retainLimit ? .keeping(kept, bytes: self.heldBytes) : .overflowed
    }

    /// The attempt's target is chosen outside the machine (a mirror's copy, which runs no stages).
    public mutating func targetResolved() {
        if case .routing = self.phase { self.phase = .connecting }
    }

    // MARK: the upstream

    public mutating func upstreamReady(reused: Bool, now: NIODeadline) -> ReadyAction {
        guard case .connecting = self.phase else { return .release }
        self.attempts += 1
        let parts = self.held
        self.held = []
        var attempt = Attempt(reused: reused, bodySent: false, responseDeadline: nil)
        if self.heldBytes > 0 { attempt.bodySent = true }
        self.heldBytes = 0
        if self.requestEnded { attempt.responseDeadline = self.responseTimeout.map { now + $0 } }
        self.phase = .awaitingResponse(attempt)
        return .send(parts)
    }

    /// What of the request arrived and is held, not yet sent anywhere (a mirror starting late takes a copy).
    public var heldParts: [RequestPart] { self.held }

    /// The downstream may read again: what was held has gone upstream.
    public var isBelowBufferLimit: Bool { self.heldBytes < self.configuration.bufferLimit }

    /// The upstream failed (refused, reset, timed out, a TLS refusal). `retryAfter` is the backoff when a stage
    /// (a retry policy) would try again; the single replay of a request that nothing consumed is decided here.
    public mutating func upstreamFailed(_ error: ProxyError, retryAfter: TimeAmount? = nil, now: NIODeadline) -> FailureAction {
        switch self.phase {
        case .draining, .finished:
            return .none
        case .responding:
            self.phase = .finished
            return .abortDownstream
        case .awaitingResponse(let attempt):
            // A pooled connection the server closed as it was reused: nothing of the request was consumed, so it
            // goes once more on another connection, as browsers and other proxies do.
            if !self.replayed, attempt.reused, !attempt.bodySent, error.code == .connectionReset || error.code == .upstreamFailed {
                self.replayed = true
                self.restart(after: nil, now: now)
                return .retry(now: true)
            }
        case .routing, .awaitingEndpoints, .backingOff, .connecting:
            break
        }
        if let delay = retryAfter, self.canRetry {
            return .retry(now: self.restart(after: delay, now: now))
        }
        return self.respond(error)
    }

    /// A stage asked to try again after seeing the response head (a retryable status): the response is dropped and
    /// the request goes again, `now` or after `delay`. `nil` when it cannot (the body was not all kept).
    public mutating func retryAfterResponse(after delay: TimeAmount, now: NIODeadline) -> Bool? {
        guard case .awaitingResponse = self.phase, self.canRetry else { return nil }
        return self.restart(after: delay, now: now)
    }

    /// Puts the request back as if no upstream had seen it: the kept body (and end) are sent again. True when the
    /// next attempt goes now, false after a backoff.
    @discardableResult
    private mutating func restart(after delay: TimeAmount?, now: NIODeadline) -> Bool {
        var parts: [RequestPart] = []
        var bytes = 0
        if case .keeping(let kept, let keptBytes) = self.replay {
            for body in kept { parts.append(.body(body)) }
            bytes = keptBytes
        }
        // Parts that never went out are still in order after the kept ones (they were kept as they arrived).
        if case .complete(let trailers) = self.request { parts.append(.end(trailers)) }
        self.held = parts
        self.heldBytes = bytes
        if let delay, delay > .zero {
            self.phase = .backingOff(until: now + delay)
            return false
        }
        self.phase = .connecting
        return true
    }

    /// Answers with `error` (the driver writes the response): the exchange then drains the request or is finished.
    public mutating func respond(_ error: ProxyError) -> FailureAction {
        self.answered()
        return .respond(error)
    }

    private mutating func answered() {
        self.held.removeAll()
        self.heldBytes = 0
        self.phase = self.requestEnded ? .finished : .draining
    }

    // MARK: the response

    public mutating func responseHead(status: Int, endStream: Bool) -> ResponseHeadAction {
        guard case .awaitingResponse = self.phase else { return .ignore }
        if status >= 100 && status < 200 && status != 101 { return .forwardInformational }
        if status == 101 {
            // A 101 nobody asked for is answered as the protocol error it is.
            guard self.upgradeRequested else { return .ignore }
            self.phase = .finished
            return .switchProtocols
        }
        if endStream {
            self.endResponse()
        } else {
            self.phase = .responding
        }
        return .forward(endStream: endStream)
    }

    public func responseBody() -> ResponsePartAction {
        if case .responding = self.phase { return .forward }
        return .drop
    }

    public mutating func responseEnd() -> ResponseEndAction {
        guard case .responding = self.phase else { return .drop }
        let complete = self.requestEnded
        self.endResponse()
        return .forward(requestComplete: complete)
    }

    private mutating func endResponse() {
        self.phase = self.requestEnded ? .finished : .draining
    }

    // MARK: time and the downstream

    /// The earliest of the deadlines the machine keeps: the driver's one timer fires then. Cheap when there is
    /// none, the common case.
    public var nextDeadline: NIODeadline? {
        var next: NIODeadline?
        switch self.phase {
        case .routing(let until?): next = until
        case .awaitingEndpoints(let until), .backingOff(let until): next = until
        case .awaitingResponse(let attempt): next = attempt.responseDeadline
        case .routing(nil), .connecting, .responding, .draining, .finished: break
        }
        if let request = self.bounds.request, next.map({ request.deadline < $0 }) ?? true { next = request.deadline }
        if let idle = self.bounds.idle {
            let due = idle.lastActivity + idle.timeout
            if next.map({ due < $0 }) ?? true { next = due }
        }
        return next
    }

    /// Whether `activity(now:)` matters: an idle timeout is set.
    public var watchesIdle: Bool { self.bounds.idle != nil }

    /// A part of the request or the response passed: the idle timeout counts from now.
    public mutating func activity(now: NIODeadline) {
        self.bounds.idle?.lastActivity = now
    }

    /// The driver's timer fired: what fell due.
    public mutating func timerFired(now: NIODeadline) -> TimerAction {
        switch self.phase {
        case .draining, .finished: return .none
        default: break
        }
        if let request = self.bounds.request, now >= request.deadline {
            return .exchangeTimedOut(ProxyError(.requestTimeout, "no response within \(request.timeout.nanoseconds / 1_000_000)ms"))
        }
        if let idle = self.bounds.idle, now >= idle.lastActivity + idle.timeout {
            return .exchangeTimedOut(ProxyError(.idleTimeout, "nothing moved for \(idle.timeout.nanoseconds / 1_000_000)ms"))
        }
        switch self.phase {
        case .routing(let until?) where now >= until:
            return .resumeStages
        case .awaitingEndpoints(let until) where now >= until:
            self.phase = .connecting
            return .attempt
        case .backingOff(let until) where now >= until:
            self.phase = .connecting
            return .retry
        case .awaitingResponse:
            return self.overdueResponse(now: now).map { .tryTimedOut($0) } ?? .none
        default:
            return .none
        }
    }

    /// The attempt's response is overdue: the error to fail the attempt with (a retry policy may try again, see
    /// `upstreamFailed`), or `nil` when it is not.
    public func overdueResponse(now: NIODeadline) -> ProxyError? {
        guard case .awaitingResponse(let attempt) = self.phase, let deadline = attempt.responseDeadline, now >= deadline,
            let timeout = self.responseTimeout
        else { return nil }
        return ProxyError(.responseTimeout, "no response within \(timeout.nanoseconds / 1_000_000)ms")
    }

    /// A timeout of the whole exchange ran out (the request's, or the idle one): before the response began the
    /// client is answered with `error`; once it began, the response is cut.
    public mutating func timedOut(_ error: ProxyError) -> FailureAction {
        switch self.phase {
        case .draining, .finished:
            return .none
        case .responding:
            self.phase = .finished
            return .abortDownstream
        case .routing, .awaitingEndpoints, .backingOff, .connecting, .awaitingResponse:
            return self.respond(error)
        }
    }

    /// The client went away (connection closed, stream reset): whatever is upstream is abandoned.
    public mutating func downstreamClosed() {
        self.phase = .finished
        self.held.removeAll()
        self.heldBytes = 0
    }
}
