import ProxyCore

/// How an exchange ended, so far: what metrics and the stages' `finished` read.
struct ExchangeOutcome {
    /// The response status (0 before one): the upstream's, or the proxy's own.
    var status = 0
    /// `grpc-status`, from the response's head (trailers-only) or trailers.
    var grpcStatus: Int?
    /// The error the proxy answered the client with, when it did.
    var localError: ProxyError?
    /// Bytes of response body sent downstream.
    var responseBytes = 0
    /// The response's trailers, when it had some.
    var trailers: HTTPFields?
    /// The stage that answered the request itself, as tap names it (`fault`, `redirect`).
    var answeredBy: String?
    /// The response went downstream whole (not cut by a reset or a failure).
    var completed = false
}
