/// A rule's timeouts (nanoseconds; `nil` for none, and the Gateway API's `0s` means none too).
public struct RouteTimeouts: Hashable, Sendable {
    /// The whole exchange as the client sees it, retries included: past it, 504 `request_timeout`.
    public var request: Int64?
    /// Each try, from sending the request to the response's end: past it the try fails (`response_timeout`), and
    /// may be retried.
    public var backendRequest: Int64?
    /// No byte either way for this long ends the exchange (`timeout.swiftlet.io/idle`).
    public var idle: Int64?

    public init(request: Int64? = nil, backendRequest: Int64? = nil, idle: Int64? = nil) {
        self.request = request == 0 ? nil : request
        self.backendRequest = backendRequest == 0 ? nil : backendRequest
        self.idle = idle == 0 ? nil : idle
    }
}
