import NIOCore

/// What the exchange's machine asks its driver to do, event by event.
extension ExchangeStateMachine {
    public enum RequestPartAction: Equatable, Sendable {
        /// Send it to the upstream.
        case forward
        /// Held until an upstream is ready; `pause` asks the downstream to stop reading meanwhile.
        case hold(pause: Bool)
        /// The exchange no longer needs it (its response is done): read and dropped.
        case discard
    }

    public enum RequestEndAction: Equatable, Sendable {
        /// Send the end upstream; the response timer starts (`responseDeadline`).
        case forward
        case hold
        /// The response was complete already: the exchange is now finished.
        case finish
        case discard
    }

    public enum ReadyAction: Sendable {
        /// Send the head, then these parts (whatever of the request arrived meanwhile).
        case send([RequestPart])
        /// The exchange ended while the upstream was opened: give the upstream back unused.
        case release
    }

    public enum FailureAction: Sendable {
        /// Send the request again: open another upstream `now`, or after the backoff (`nextDeadline`).
        case retry(now: Bool)
        /// Answer the client with this error.
        case respond(ProxyError)
        /// Too late to answer: cut the downstream (the client sees a reset or a truncated body).
        case abortDownstream
        case none
    }

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

    public enum ResponsePartAction: Equatable, Sendable {
        case forward
        case drop
    }

    public enum ResponseEndAction: Equatable, Sendable {
        /// Send the end downstream. `requestComplete` says whether the request was all sent (the upstream connection
        /// may be reused); when not, the rest of the request is read and dropped (`draining`).
        case forward(requestComplete: Bool)
        case drop
    }

    public enum TimerAction: Sendable {
        /// Nothing is due (the deadline moved): the driver arms the timer again at `nextDeadline`.
        case none
        /// A stage's wait is over: the stages run again.
        case resumeStages
        /// The wait for discovery's first answer is over: the first attempt goes without it.
        case attempt
        /// The backoff is over: the retry goes.
        case retry
        /// The try waited too long for its response head: it fails like any other (a retry policy may try again).
        case tryTimedOut(ProxyError)
        /// A bound on the whole exchange ran out (see `timedOut`).
        case exchangeTimedOut(ProxyError)
    }
}
