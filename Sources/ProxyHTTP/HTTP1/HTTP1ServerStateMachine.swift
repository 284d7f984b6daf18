import NIOCore
import ProxyCore

/// One HTTP/1.1 server connection's logic, pure: keep-alive, pipelining (one exchange at a time), the rest of a
/// request dropped after an early response, the header-read timeout between requests, and quiescing. The handler
/// (`HTTP1ServerHandler`) parses and writes bytes and does what the events here return; time comes with the events
/// and the one deadline (`nextDeadline`) is kept here, as in SwiftNIO's and Hummingbird's state machines.
struct HTTP1ServerStateMachine {
    enum State: Equatable {
        /// Between requests: the next head must arrive whole by `deadline` (a client trickling bytes, or keeping
        /// an idle connection, cannot hold it for ever).
        case idle(deadline: NIODeadline)
        /// A request's head was read and its exchange runs.
        case exchange(Request)
        /// The response went out before the request ended: the rest of the request is read and dropped.
        case discarding
        /// After a `101`: the connection is a byte relay, HTTP no longer.
        case tunnel
        case closed
    }

    struct Request: Equatable {
        var version: HTTPVersionNumber
        var isHEAD: Bool
        /// The request's end was read: a pipelined request behind it waits, unparsed.
        var ended = false
        /// Its exchange cannot take more of the body now (its upstream is full).
        var paused = false
        /// The response is written chunked (its length was not known).
        var chunked = false
    }

    let headerReadTimeout: TimeAmount
    private(set) var state: State
    /// The connection closes after the exchange in flight: the client asked, a body runs until the close, the
    /// client half-closed, or the proxy quiesces.
    private(set) var closing = false
    /// The last request's version, for the connection's own answers.
    private(set) var version = HTTPVersionNumber.http1_1

    init(headerReadTimeout: TimeAmount, now: NIODeadline) {
        self.headerReadTimeout = headerReadTimeout
        self.state = .idle(deadline: now + headerReadTimeout)
    }

    /// The header-read deadline, while one runs.
    var nextDeadline: NIODeadline? {
        if case .idle(let deadline) = self.state { return deadline }
        return nil
    }

    /// Whether the handler may take the parser's next event now: not past a request whose response is not done
    /// (pipelining), not while its exchange is full.
    var mayParse: Bool {
        switch self.state {
        case .idle, .discarding: return true
        case .exchange(let request): return !request.ended && !request.paused
        case .tunnel, .closed: return false
        }
    }

    /// Whether reading from the socket goes on: while a request streams (unless its exchange is full), while
    /// bytes are dropped, and while nothing of a next request waits (`parserIsIdle`). A client waiting for its
    /// response sends nothing, and holding the read would cost a pair of `epoll_ctl`s per request for nothing.
    func canRead(parserIsIdle: Bool) -> Bool {
        switch self.state {
        case .idle, .discarding: return true
        case .exchange(let request): return request.ended ? parserIsIdle : !request.paused
        case .tunnel, .closed: return false
        }
    }

    // MARK: the request

    /// A request head was read: its exchange starts.
    mutating func headReceived(version: HTTPVersionNumber, isHEAD: Bool, keepAlive: Bool) {
        guard case .idle = self.state else { return }
        self.version = version
        if !keepAlive { self.closing = true }
        self.state = .exchange(Request(version: version, isHEAD: isHEAD))
    }

    enum PartAction: Equatable {
        /// To the exchange.
        case deliver
        /// The exchange is done with the request: dropped.
        case drop
        /// Dropped, and the request's end: the connection closes (it was to close after this request).
        case dropAndClose
    }

    func bodyReceived() -> PartAction {
        if case .exchange = self.state { return .deliver }
        return .drop
    }

    mutating func endReceived(now: NIODeadline) -> PartAction {
        switch self.state {
        case .exchange(var request):
            request.ended = true
            self.state = .exchange(request)
            return .deliver
        case .discarding:
            if self.closing { return .dropAndClose }
            self.state = .idle(deadline: now + self.headerReadTimeout)
            return .drop
        case .idle, .tunnel, .closed:
            return .drop
        }
    }

    /// The exchange asks the connection to stop (or go on) reading the body.
    mutating func requestPaused(_ paused: Bool) {
        guard case .exchange(var request) = self.state, request.paused != paused else { return }
        request.paused = paused
        self.state = .exchange(request)
    }

    // MARK: the response

    /// How a response head is framed on this connection.
    struct Framing: Equatable {
        /// Add `content-length: 0` (a bodiless response that did not say its length).
        var contentLengthZero = false
        /// Add `transfer-encoding: chunked`, and frame the body so.
        var chunked = false
        enum Connection: Equatable { case none, close, keepAlive }
        var connection = Connection.none

        init(contentLengthZero: Bool = false, chunked: Bool = false, connection: Connection = .none) {
            self.contentLengthZero = contentLengthZero
            self.chunked = chunked
            self.connection = connection
        }
    }

    /// The response head: how its body is delimited, and whether the connection stays open after it (HTTP/1.0 has
    /// no chunked coding: a body of unknown length runs until the connection closes).
    mutating func responseHead(status: Int, endStream: Bool, hasContentLength: Bool) -> Framing {
        guard case .exchange(var request) = self.state else { return Framing() }
        var framing = Framing()
        request.chunked = false
        if status >= 200 || status == 101 {
            let bodiless = request.isHEAD || status == 204 || status == 304 || status == 101
            if !bodiless, !hasContentLength {
                if endStream {
                    framing.contentLengthZero = true
                } else if request.version == .http1_0 {
                    self.closing = true
                } else {
                    framing.chunked = true
                    request.chunked = true
                }
            }
            if status != 101 {
                if self.closing {
                    framing.connection = .close
                } else if request.version == .http1_0 {
                    framing.connection = .keepAlive
                }
            }
        }
        self.state = .exchange(request)
        return framing
    }

    /// The response body's framing: chunked or not.
    var responseChunked: Bool {
        if case .exchange(let request) = self.state { return request.chunked }
        return false
    }

    /// The response's end: whether a last chunk (with the trailers) is written.
    mutating func responseEnded() -> Bool {
        guard case .exchange(var request) = self.state, request.chunked else { return false }
        request.chunked = false
        self.state = .exchange(request)
        return true
    }

    enum FinishAction: Equatable {
        /// Flush and close.
        case close
        /// Read and drop the rest of the request.
        case discard
        /// On to the next request.
        case next
    }

    /// The exchange is over; `requestComplete` is false when its response went out before the request ended.
    mutating func exchangeFinished(requestComplete: Bool, now: NIODeadline) -> FinishAction {
        guard case .exchange = self.state else { return self.state == .closed ? .close : .next }
        if self.closing {
            self.state = .closed
            return .close
        }
        if !requestComplete {
            self.state = .discarding
            return .discard
        }
        self.state = .idle(deadline: now + self.headerReadTimeout)
        return .next
    }

    // MARK: the connection's life

    enum CloseAction: Equatable {
        case none
        /// Close now.
        case close
        /// The exchange in flight is cut, then the connection closes.
        case abortExchangeAndClose
        /// The connection's own error answer goes out, then it closes.
        case answerAndClose
    }

    /// The client sent its last byte: answer what is in flight, then close; close at once if nothing is, or if a
    /// request was cut short.
    mutating func inputClosed() -> CloseAction {
        self.closing = true
        switch self.state {
        case .idle:
            self.state = .closed
            return .close
        case .exchange(let request) where !request.ended:
            self.state = .closed
            return .abortExchangeAndClose
        case .discarding:
            self.state = .closed
            return .close
        case .exchange, .tunnel, .closed:
            return .none
        }
    }

    /// Graceful shutdown: the exchange in flight (and the request being dropped) finish, then the connection
    /// closes; an idle one closes at once.
    mutating func quiesce() -> CloseAction {
        self.closing = true
        guard case .idle = self.state else { return .none }
        self.state = .closed
        return .close
    }

    /// The bytes cannot be parsed: an exchange under way can only be cut; otherwise 400 (431) and close.
    mutating func malformed() -> CloseAction {
        self.closing = true
        if case .exchange = self.state {
            self.state = .closed
            return .abortExchangeAndClose
        }
        self.state = .closed
        return .answerAndClose
    }

    /// The timer fired: whether the header-read timeout ran out (the connection answers 408 and closes).
    mutating func timerFired(now: NIODeadline) -> Bool {
        guard case .idle(let deadline) = self.state, now >= deadline else { return false }
        self.closing = true
        self.state = .closed
        return true
    }

    /// After a `101`: a byte relay from now on.
    mutating func switchedToTunnel() {
        self.state = .tunnel
    }

    /// The connection closed (or is closing).
    mutating func closed() {
        self.state = .closed
    }
}
