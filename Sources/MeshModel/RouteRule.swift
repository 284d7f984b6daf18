/// One rule of a route: which requests it takes (any one of its matches), what it does to them, and where they go.
public struct RouteRule: Hashable, Sendable {
    public enum Matches: Hashable, Sendable {
        case http([HTTPRouteMatch])
        case grpc([GRPCRouteMatch])
    }

    public var matches: Matches
    public var filters: [RouteFilter]
    /// No backends: the rule's requests are answered with 500 (Gateway API), unless a redirect answers them first.
    public var backends: [RouteBackend]
    public var timeouts: RouteTimeouts
    public var retry: RouteRetry?

    public init(
        matches: Matches, filters: [RouteFilter] = [], backends: [RouteBackend] = [], timeouts: RouteTimeouts = RouteTimeouts(),
        retry: RouteRetry? = nil
    ) {
        // A rule without matches takes every request (HTTPRoute: a `PathPrefix` of `/`).
        switch matches {
        case .http(let list): self.matches = .http(list.isEmpty ? [.everything] : list)
        case .grpc(let list): self.matches = .grpc(list.isEmpty ? [.everything] : list)
        }
        self.filters = filters
        self.backends = backends
        self.timeouts = timeouts
        self.retry = retry
    }

    package var matchCount: Int {
        switch self.matches {
        case .http(let list): list.count
        case .grpc(let list): list.count
        }
    }

    package func specificity(_ index: Int) -> [Int] {
        switch self.matches {
        case .http(let list): list[index].specificity
        case .grpc(let list): list[index].specificity
        }
    }
}
