/// The PromQL of `swiftlet viz stat-outbound` (and, in `RouteStatQuery+Inbound`, of `viz stat-inbound`): a
/// resource's outbound traffic per route (the parent Service, its HTTPRoute or GRPCRoute, or the default route) and
/// per backend of each route, from the route families the proxy exports as Linkerd's do (`outbound_{http,grpc}_route_…`).
///
/// SUCCESS is Linkerd's: an HTTP response below 500, or a gRPC status of OK, with no proxy error; TIMEOUTS the
/// share of a route's requests that ended in one of the proxy's timeouts; RETRIES the retries sent, as a share of the
/// route's requests. Latency is a route's whole time (retries included), and a backend's per attempt.
public struct RouteStatQuery: Sendable, Equatable {
    public var resource: StatResource
    public var name: String
    public var namespace: String
    public var window: Int

    public init(resource: StatResource, name: String, namespace: String, window: Int) {
        self.resource = resource
        self.name = name
        self.namespace = namespace
        self.window = window
    }

    static let route = "parent_namespace, parent_name, parent_port, route_kind, route_namespace, route_name"
    static let backend = "backend_namespace, backend_name, backend_port"
    static let outcome = "http_status, grpc_status, error"
    /// The proxy's errors that are timeouts.
    public static let timeouts: Set<String> = ["request_timeout", "response_timeout", "idle_timeout", "connect_timeout"]

    func selector(_ family: String) -> String { self.selector(metrics: "outbound_(http|grpc)_route_\(family)") }

    /// The series of the metrics `pattern` matches from the resource's pods (a namespace: every pod in it).
    func selector(metrics pattern: String) -> String {
        let source =
            self.resource == .namespace
            ? "namespace=\"\(StatQuery.escaped(self.name))\""
            : "namespace=\"\(StatQuery.escaped(self.namespace))\", \(self.resource.label)=\"\(StatQuery.escaped(self.name))\""
        return "{__name__=~\"\(pattern)\", \(source)}"
    }

    var range: String { "[\(self.window)s]" }

    public var statuses: String {
        "sum(increase(\(self.selector("request_statuses_total"))\(self.range))) by (\(Self.route), \(Self.outcome))"
    }

    public var retries: String { "sum(increase(\(self.selector("retry_requests_total"))\(self.range))) by (\(Self.route))" }

    public func latency(_ quantile: Double) -> String {
        "histogram_quantile(\(quantile), sum(rate(\(self.selector("request_duration_seconds_bucket"))\(self.range))) "
            + "by (le, \(Self.route)))"
    }

    public var backendStatuses: String {
        "sum(increase(\(self.selector("backend_response_statuses_total"))\(self.range))) "
            + "by (\(Self.route), \(Self.backend), \(Self.outcome))"
    }

    public var backendRequests: String {
        "sum(increase(\(self.selector("backend_requests_total"))\(self.range))) by (\(Self.route), \(Self.backend))"
    }

    public func backendLatency(_ quantile: Double) -> String {
        "histogram_quantile(\(quantile), sum(rate(\(self.selector("backend_response_duration_seconds_bucket"))\(self.range))) "
            + "by (le, \(Self.route), \(Self.backend)))"
    }
}
