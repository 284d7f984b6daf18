import ProxyCore

/// How an exchange ended, so far: what metrics and the stages' `finished` read.
struct ExchangeOutcome {
    /// The response status (0 before one): the upstream's, or the proxy's own.
    var status = 0
    /// `grpc-status`, from the response's head (trailers-only) or trailers.
    var grpcStatus: Int?
    /// The error the proxy answered the client with, when it did.
    var localError: ProxyError?
}
