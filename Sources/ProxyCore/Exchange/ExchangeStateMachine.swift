import NIOCore

/// One request and its response, as pure logic: what the proxy does next given what just happened on either side.
///
/// The handlers at the two edges translate bytes or frames into the events here and perform the actions returned;
/// nothing here knows the wire protocols, the sockets or the clock (`now` comes with the events that need it).
///
/// Phases: `waitingForTarget` (discovery, or a stage, has not named where the request goes), `connecting` (an upstream
/// connection or stream is being opened), `streaming` (both directions flow), then `draining` (the response is
/// complete but the request is not: the rest of it is read and dropped) and `finished`. A failure before the response
/// starts becomes an error response (`respond`); after it, the downstream is cut (`abortDownstream`).
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
        case waitingForTarget
        case connecting
        case streaming
        case draining
        case finished
    }

    public enum RequestPart: Sendable {
        case body(ByteBuffer)
        case end(HTTPFields?)
    }

    public let configuration: Configuration
    public private(set) var phase: Phase = .waitingForTarget
    public private(set) var requestEnded = false
    public private(set) var responseStarted = false
    public private(set) var responseEnded = false
    /// When the response must have started by (the driver arms a timer for it).
    public private(set) var responseDeadline: NIODeadline?
    /// Attempts made on upstreams: 1 for the first, more after a replay or a retry.
    public private(set) var attempts = 0
    /// Each attempt's own response timeout (a route's `backendRequest`), in place of the configured one.
    public var tryTimeout: TimeAmount?
    /// The body outgrew what is kept for a retry: the request cannot be retried.
    public var bodyTooLargeToRetry: Bool { self.retainRequested && self.retained == nil }
    var retainRequested = false
    let upgradeRequested: Bool

    /// Request parts not yet sent to an upstream (an array: empty, it allocates nothing, and most requests never
    /// hold a part).
    var buffered: [RequestPart] = []
    var bufferedBytes = 0
    /// The body as sent so far, kept for a retry (`nil` when no stage asked, or once it outgrew the limit).
    var retained: [ByteBuffer]?
    var retainedBytes = 0
    var retainedTrailers: HTTPFields?
    /// Body bytes went to the current upstream: a replay could repeat what it consumed.
    var bodySent = false
    var replayed = false
    var upstreamReused = false

    public init(configuration: Configuration, upgrade: Bool = false, retainBody: Bool = false) {
        self.configuration = configuration
        self.upgradeRequested = upgrade
        self.retained = retainBody ? [] : nil
        self.retainRequested = retainBody
    }

    // MARK: the request

    public enum RequestPartAction: Equatable, Sendable {
        /// Send it to the upstream.
        case forward
        /// Held until an upstream is ready; `pause` asks the downstream to stop reading meanwhile.
        case hold(pause: Bool)
        /// The exchange no longer needs it (its response is done): read and dropped.
        case discard
    }

    public mutating func requestBody(_ bytes: ByteBuffer) -> RequestPartAction {
        switch self.phase {
        case .waitingForTarget, .connecting:
            self.retain(bytes)
            self.buffered.append(.body(bytes))
            self.bufferedBytes += bytes.readableBytes
            return .hold(pause: self.bufferedBytes >= self.configuration.bufferLimit)
        case .streaming:
            self.retain(bytes)
            self.bodySent = true
            return .forward
        case .draining, .finished:
            return .discard
        }
    }

    public enum RequestEndAction: Equatable, Sendable {
        /// Send the end upstream; the response timer starts (`responseDeadline`).
        case forward
        case hold
        /// The response was complete already: the exchange is now finished.
        case finish
        case discard
    }

    public mutating func requestEnd(_ trailers: HTTPFields?, now: NIODeadline) -> RequestEndAction {
        guard !self.requestEnded else { return .discard }
        self.requestEnded = true
        self.retainedTrailers = trailers
        switch self.phase {
        case .waitingForTarget, .connecting:
            self.buffered.append(.end(trailers))
            return .hold
        case .streaming:
            if !self.responseStarted { self.armResponseTimer(now: now) }
            return .forward
        case .draining:
            self.phase = .finished
            return .finish
        case .finished:
            return .discard
        }
    }

    /// A stage asked for the body to be kept for a retry. What arrived so far has not gone anywhere yet: it is all
    /// still held, so it is all kept.
    public mutating func startRetaining() {
        guard self.retained == nil, self.phase == .waitingForTarget else { return }
        self.retainRequested = true
        var kept: [ByteBuffer] = []
        var bytes = 0
        for case .body(let body) in self.buffered {
            kept.append(body)
            bytes += body.readableBytes
        }
        if bytes <= self.configuration.retainLimit {
            self.retained = kept
            self.retainedBytes = bytes
        }
    }

    private mutating func retain(_ bytes: ByteBuffer) {
        guard self.retained != nil else { return }
        self.retainedBytes += bytes.readableBytes
        if self.retainedBytes > self.configuration.retainLimit {
            self.retained = nil
        } else {
            self.retained!.append(bytes)
        }
    }

    private mutating func armResponseTimer(now: NIODeadline) {
        if let timeout = self.responseTimeout { self.responseDeadline = now + timeout }
    }

    /// The timeout from a request sent to its response head: the attempt's own, else the configured one.
    var responseTimeout: TimeAmount? { self.tryTimeout ?? self.configuration.responseTimeout }

    /// Whether the request may be sent again: its body is all kept (or it has none) and nothing of a response went
    /// downstream.
    public var canRetry: Bool {
        !self.responseStarted && self.phase != .finished && self.phase != .draining
            && (self.retained != nil || (!self.bodySent && self.bufferedBytes == 0))
    }

    // MARK: the target and the upstream

    /// Where the request goes is known; an upstream is being opened.
    public mutating func targetResolved() {
        if self.phase == .waitingForTarget { self.phase = .connecting }
    }

    public enum ReadyAction: Sendable {
        /// Send the head, then these parts (whatever of the request arrived meanwhile).
        case send([RequestPart])
        /// The exchange ended while the upstream was opened: give the upstream back unused.
        case release
    }

    public mutating func upstreamReady(reused: Bool, now: NIODeadline) -> ReadyAction {
        guard self.phase == .connecting else { return .release }
        self.phase = .streaming
        self.attempts += 1
        self.upstreamReused = reused
        let parts = self.buffered
        self.buffered = []
        for case .body(let bytes) in parts where bytes.readableBytes > 0 { self.bodySent = true }
        self.bufferedBytes = 0
        if self.requestEnded { self.armResponseTimer(now: now) }
        return .send(parts)
    }

    /// What of the request arrived and is held, not yet sent anywhere (a mirror starting late takes a copy).
    public var heldParts: [RequestPart] { self.buffered }

    /// The downstream may read again: what was held has gone upstream.
    public var isBelowBufferLimit: Bool { self.bufferedBytes < self.configuration.bufferLimit }

    public enum FailureAction: Sendable {
        /// Open another upstream and send the request again (a replay on a fresh connection, or a stage's retry).
        case retry
        /// Answer the client with this error.
        case respond(ProxyError)
        /// Too late to answer: cut the downstream (the client sees a reset or a truncated body).
        case abortDownstream
        case none
    }

    /// The upstream failed (refused, reset, timed out, a TLS refusal). `stageRetries` is whether a stage (a retry
    /// policy) would try again; the single replay of a request that nothing consumed is decided here.
    public mutating func upstreamFailed(_ error: ProxyError, stageRetries: Bool = false) -> FailureAction {
        switch self.phase {
        case .draining, .finished:
            return .none
        case .waitingForTarget, .connecting, .streaming:
            break
        }
        if self.responseStarted {
            self.phase = .finished
            return .abortDownstream
        }
        self.responseDeadline = nil
        // A pooled connection the server closed as it was reused: nothing of the request was consumed, so it goes
        // once more on another connection, as browsers and other proxies do.
        if !self.replayed, self.upstreamReused, !self.bodySent, error.code == .connectionReset || error.code == .upstreamFailed {
            self.replayed = true
            self.restartRequest()
            return .retry
        }
        if stageRetries, self.canRetry {
            self.restartRequest()
            return .retry
        }
        return self.respond(error)
    }

    /// A stage asked to try again after seeing the response head (a retryable status): the response is dropped and
    /// the request goes again. False when it cannot (the body was not all kept).
    public mutating func retryAfterResponse() -> Bool {
        guard self.phase == .streaming, self.canRetry else { return false }
        self.restartRequest()
        return true
    }

    /// Puts the request back as if no upstream had seen it: the kept body (and end) are sent again.
    private mutating func restartRequest() {
        self.phase = .connecting
        self.responseDeadline = nil
        self.bodySent = false
        var parts: [RequestPart] = []
        var bytes = 0
        for body in self.retained ?? [] {
            parts.append(.body(body))
            bytes += body.readableBytes
        }
        // Parts that never went out are still in order after the kept ones (they were kept as they arrived).
        if self.requestEnded { parts.append(.end(self.retainedTrailers)) }
        self.buffered = parts
        self.bufferedBytes = bytes
    }

    /// Answers with `error` (the driver writes the response): the exchange then drains the request or is finished.
    public mutating func respond(_ error: ProxyError) -> FailureAction {
        self.responseStarted = true
        self.responseEnded = true
        self.responseDeadline = nil
        self.buffered.removeAll()
        self.bufferedBytes = 0
        self.phase = self.requestEnded ? .finished : .draining
        return .respond(error)
    }

    // MARK: the response

    public enum ResponseHeadAction: Equatable, Sendable {
        /// A `1xx` (not `101`): passed on, and the final response is still to come.
        case forwardInformational
        /// The final head; `endStream` when it is the whole response (a trailers-only gRPC answer, a bodiless HTTP/2
        /// response).
        case forward(endStream: Bool)
        /// `101` to an upgrade request: both connections become a byte relay after it.
        case switchProtocols
        /// Not expected (the exchange already answered or was cut).
        case ignore
    }

    public mutating func responseHead(status: Int, endStream: Bool) -> ResponseHeadAction {
        guard self.phase == .streaming, !self.responseStarted else { return .ignore }
        if status >= 100 && status < 200 && status != 101 { return .forwardInformational }
        self.responseStarted = true
        self.responseDeadline = nil
        if status == 101 {
            guard self.upgradeRequested else {
                // A 101 nobody asked for: answered as the protocol error it is.
                self.responseStarted = false
                return .ignore
            }
            self.responseEnded = true
            self.phase = .finished
            return .switchProtocols
        }
        if endStream { self.endResponse() }
        return .forward(endStream: endStream)
    }

    public enum ResponsePartAction: Equatable, Sendable {
        case forward
        case drop
    }

    public mutating func responseBody() -> ResponsePartAction {
        self.phase == .streaming && self.responseStarted && !self.responseEnded ? .forward : .drop
    }

    public enum ResponseEndAction: Equatable, Sendable {
        /// Send the end downstream. `requestComplete` says whether the request was all sent (the upstream connection
        /// may be reused); when not, the rest of the request is read and dropped (`draining`).
        case forward(requestComplete: Bool)
        case drop
    }

    public mutating func responseEnd() -> ResponseEndAction {
        guard self.phase == .streaming, self.responseStarted, !self.responseEnded else { return .drop }
        let complete = self.requestEnded
        self.endResponse()
        return .forward(requestComplete: complete)
    }

    private mutating func endResponse() {
        self.responseEnded = true
        self.phase = self.requestEnded ? .finished : .draining
    }

    // MARK: time and the downstream

    /// The attempt's response is overdue: the error to fail the attempt with (a retry policy may try again, see
    /// `upstreamFailed`), or `nil` when the timer is stale.
    public func overdueResponse(now: NIODeadline) -> ProxyError? {
        guard let deadline = self.responseDeadline, now >= deadline, self.phase == .streaming, !self.responseStarted,
            let timeout = self.responseTimeout
        else { return nil }
        return ProxyError(.responseTimeout, "no response within \(timeout.nanoseconds / 1_000_000)ms")
    }

    /// The whole exchange's time (a route's `request` timeout) ran out: before the response began the client is
    /// answered 504; once it began, the response is cut.
    public mutating func requestTimedOut(after timeout: TimeAmount) -> FailureAction {
        self.timedOut(ProxyError(.requestTimeout, "no response within \(timeout.nanoseconds / 1_000_000)ms"))
    }

    /// A timeout of the whole exchange ran out (the request's, or the idle one): before the response began the
    /// client is answered with `error`; once it began, the response is cut.
    public mutating func timedOut(_ error: ProxyError) -> FailureAction {
        switch self.phase {
        case .draining, .finished:
            return .none
        case .waitingForTarget, .connecting, .streaming:
            break
        }
        if self.responseStarted {
            self.phase = .finished
            return .abortDownstream
        }
        return self.respond(error)
    }

    /// The client went away (connection closed, stream reset): whatever is upstream is abandoned.
    public mutating func downstreamClosed() {
        self.phase = .finished
        self.buffered.removeAll()
        self.bufferedBytes = 0
        self.responseDeadline = nil
    }
}
