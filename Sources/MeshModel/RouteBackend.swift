/// Where a rule sends its requests: a Service's port, chosen per request by `weight` among the rule's backends.
public struct RouteBackend: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var port: Int?
    /// 0 gets no requests. The Gateway API's default is 1.
    public var weight: Int
    /// Why this backend cannot be used (an unknown Service, a kind that is not a Service): its share of requests is
    /// answered with 500, as the Gateway API asks, while the rest of the route keeps working.
    public var unresolved: String?
    public var filters: [RouteFilter]

    public init(namespace: String, name: String, port: Int?, weight: Int = 1, unresolved: String? = nil, filters: [RouteFilter] = []) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.weight = weight
        self.unresolved = unresolved
        self.filters = filters
    }
}
