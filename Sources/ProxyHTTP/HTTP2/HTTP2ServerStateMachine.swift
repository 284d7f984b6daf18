import NIOCore
import NIOHTTP2

/// One HTTP/2 server connection's logic, pure: the first request must open a stream within the header-read timeout
/// (a client that connects and sends nothing, or only its preface, cannot hold the connection), and quiescing —
/// `GOAWAY` with the last stream seen, then the close once the open streams are done. Time comes with the events;
/// the one deadline is `nextDeadline`. The streams themselves are the handler's (their count comes with the events).
struct HTTP2ServerStateMachine {
    enum State: Equatable {
        /// No stream yet: the first must open by `deadline`.
        case awaitingFirstStream(deadline: NIODeadline)
        /// Taking streams.
        case open(highestStreamID: HTTP2StreamID)
        /// `GOAWAY` went out: the open streams finish, then the connection closes.
        case quiescing
        case closed
    }

    private(set) var state: State

    init(headerReadTimeout: TimeAmount, now: NIODeadline) {
        self.state = .awaitingFirstStream(deadline: now + headerReadTimeout)
    }

    var nextDeadline: NIODeadline? {
        if case .awaitingFirstStream(let deadline) = self.state { return deadline }
        return nil
    }

    /// A client opened stream `id`.
    mutating func streamOpened(_ id: HTTP2StreamID) {
        switch self.state {
        case .awaitingFirstStream:
            self.state = .open(highestStreamID: id)
        case .open(let highest):
            if id > highest { self.state = .open(highestStreamID: id) }
        case .quiescing, .closed:
            // Opened before the client saw the `GOAWAY`: served like the others.
            break
        }
    }

    enum Action: Equatable {
        case none
        /// Send `GOAWAY` naming `lastStreamID`; then close when `close`.
        case goAway(lastStreamID: HTTP2StreamID, close: Bool)
        /// Close the connection.
        case close
    }

    /// A stream closed and `openStreams` remain: when quiescing and none does, the connection closes.
    mutating func streamClosed(openStreams: Int) -> Action {
        guard case .quiescing = self.state, openStreams == 0 else { return .none }
        self.state = .closed
        return .close
    }

    /// The proxy drains, the client sent `GOAWAY`, or it half-closed: no new streams; the open ones finish.
    mutating func quiesce(openStreams: Int) -> Action {
        let lastStreamID: HTTP2StreamID
        switch self.state {
        case .awaitingFirstStream: lastStreamID = .rootStream
        case .open(let highest): lastStreamID = highest
        case .quiescing, .closed: return .none
        }
        self.state = openStreams == 0 ? .closed : .quiescing
        return .goAway(lastStreamID: lastStreamID, close: openStreams == 0)
    }

    /// The timer fired: no stream came within the header-read timeout, and the connection goes away.
    mutating func timerFired(now: NIODeadline) -> Action {
        guard case .awaitingFirstStream(let deadline) = self.state, now >= deadline else { return .none }
        self.state = .closed
        return .goAway(lastStreamID: .rootStream, close: true)
    }

    mutating func closed() {
        self.state = .closed
    }
}
