/// Everything a proxy uses for traffic to one Service port: the routes attached to it and, for requests that no
/// route takes (or when it has none), the Service's default rule — its own endpoints, with the retry and timeouts
/// of the Service's annotations; and failure accrual for its endpoints.
public struct ServicePolicy: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var port: Int
    public var routes: [Route]
    public var defaultRule: RouteRule
    public var accrual: FailureAccrual?
    /// The retry budget of each route of the port (nil: `RetryBudget.Settings()`), from an `XBackendTrafficPolicy`'s
    /// `retryConstraint` or the Service's `retry.swiftlet.io/budget-*` annotations.
    public var budget: RetryBudget.Settings?

    public init(
        namespace: String, name: String, port: Int, routes: [Route] = [], defaultRule: RouteRule? = nil, accrual: FailureAccrual? = nil,
        budget: RetryBudget.Settings? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.routes = routes
        self.defaultRule =
            defaultRule ?? RouteRule(matches: .http([]), backends: [RouteBackend(namespace: namespace, name: name, port: port)])
        self.accrual = accrual
        self.budget = budget
    }
}
