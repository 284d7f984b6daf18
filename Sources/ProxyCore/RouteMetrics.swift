import MeshModel

/// The labels of Linkerd 2.16's route families: the parent (a Service port), the route (or the parent's default
/// route), and — for backend series — the backend Service port.
public struct RouteLabels: Hashable, Sendable {
    public enum Family: String, Hashable, Sendable {
        case http
        case grpc
    }

    public var family: Family
    public var parentNamespace: String
    public var parentName: String
    public var parentPort: Int
    /// `nil`: the parent's default route (`route_kind="default"`).
    public var route: RouteName?

    /// A route as its labels name it.
    public struct RouteName: Hashable, Sendable {
        public var kind: Route.Kind
        public var namespace: String
        public var name: String

        public init(kind: Route.Kind, namespace: String, name: String) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }
    }

    public init(family: Family, parentNamespace: String, parentName: String, parentPort: Int, route: RouteName?) {
        self.family = family
        self.parentNamespace = parentNamespace
        self.parentName = parentName
        self.parentPort = parentPort
        self.route = route
    }

    /// The route as tap's `route_meta` names it: Linkerd's route label keys, and the parent Service's.
    public var tapLabels: [MetricLabel] {
        var labels = [
            MetricLabel("parent_namespace", self.parentNamespace), MetricLabel("parent_name", self.parentName),
            MetricLabel("parent_port", String(self.parentPort)),
        ]
        if let route {
            labels += [
                MetricLabel("route_kind", route.kind == .grpc ? "GRPCRoute" : "HTTPRoute"), MetricLabel("route_namespace", route.namespace),
                MetricLabel("route_name", route.name),
            ]
        } else {
            labels += [MetricLabel("route_kind", "default"), MetricLabel("route_name", self.family.rawValue)]
        }
        return labels
    }

    /// The `parent_*` labels alone (the balancer gauge's, with the backend's).
    var renderedParent: String {
        "parent_group=\"core\",parent_kind=\"Service\",parent_namespace=\"\(escape(parentNamespace))\","
            + "parent_name=\"\(escape(parentName))\","
            + "parent_port=\"\(parentPort)\",parent_section_name=\"\""
    }

    var rendered: String {
        self.renderedParent + "," + Self.rendered(self.route, defaultName: self.family.rawValue)
    }

    /// The `route_*` labels of `route`, or of a default route named `defaultName`.
    static func rendered(_ route: RouteName?, defaultName: String) -> String {
        guard let route else { return "route_group=\"\",route_kind=\"default\",route_namespace=\"\",route_name=\"\(defaultName)\"" }
        let kind = route.kind == .grpc ? "GRPCRoute" : "HTTPRoute"
        return "route_group=\"gateway.networking.k8s.io\",route_kind=\"\(kind)\",route_namespace=\"\(escape(route.namespace))\","
            + "route_name=\"\(escape(route.name))\""
    }
}

/// One backend of a route: a Service port.
public struct BackendLabels: Hashable, Sendable {
    public var namespace: String
    public var name: String
    public var port: Int

    public init(namespace: String, name: String, port: Int) {
        self.namespace = namespace
        self.name = name
        self.port = port
    }

    var rendered: String {
        "backend_group=\"core\",backend_kind=\"Service\",backend_namespace=\"\(escape(namespace))\",backend_name=\"\(escape(name))\","
            + "backend_port=\"\(port)\",backend_section_name=\"\""
    }
}

/// How an exchange or an attempt ended, for the `*_statuses_total` families: the HTTP status (and `grpc-status`) of
/// a response, or the proxy's error when there was none to pass on.
public struct RouteOutcome: Hashable, Sendable {
    public var status: Int?
    public var grpcStatus: Int?
    public var error: String?

    public init(status: Int?, grpcStatus: Int?, error: String?) {
        self.status = status
        self.grpcStatus = grpcStatus
        self.error = error
    }

    /// Whether the outcome counts as a failure (failure accrual, a retry's success): a proxy error, a 5xx, or a gRPC
    /// status that says the server failed (PERMISSION_DENIED, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS).
    public var isFailure: Bool {
        if self.error != nil || (self.status ?? 0) >= 500 { return true }
        switch self.grpcStatus {
        case 4?, 7?, 13?, 14?, 15?: return true
        default: return false
        }
    }

    func rendered(_ family: RouteLabels.Family) -> String {
        let error = "error=\"\(self.error.map { escape($0) } ?? "")\""
        switch family {
        case .http: return "http_status=\"\(self.status.map(String.init) ?? "")\",\(error)"
        case .grpc: return "grpc_status=\"\(self.grpcStatus.map(String.init) ?? "")\",\(error)"
        }
    }
}

/// Durations and outcomes of one series of a route family, owned by one event loop (plain increments).
public final class RouteSeries {
    let rendered: String
    let family: RouteLabels.Family
    var requests: UInt64 = 0
    var buckets = [UInt64](repeating: 0, count: RouteLatencyBuckets.bounds.count + 1)
    var sumSeconds: Double = 0
    var outcomes: [(outcome: RouteOutcome, count: UInt64)] = []
    var retryRequests: UInt64 = 0
    var retrySuccesses: UInt64 = 0
    var retryLimitExceeded: UInt64 = 0
    var retryOverflow: UInt64 = 0
    var retryUnreplayable: UInt64 = 0

    init(rendered: String, family: RouteLabels.Family) {
        self.rendered = rendered
        self.family = family
    }

    public func recordRequest() { self.requests &+= 1 }
    public func recordRetry() { self.retryRequests &+= 1 }
    public func recordRetrySuccess() { self.retrySuccesses &+= 1 }
    public func recordRetryLimitExceeded() { self.retryLimitExceeded &+= 1 }
    public func recordRetryOverflow() { self.retryOverflow &+= 1 }
    /// A retry was wanted but the body was too large to have been kept.
    public func recordRetryUnreplayable() { self.retryUnreplayable &+= 1 }

    public func record(_ outcome: RouteOutcome, seconds: Double) {
        self.buckets[RouteLatencyBuckets.index(of: seconds)] &+= 1
        self.sumSeconds += seconds
        for index in self.outcomes.indices where self.outcomes[index].outcome == outcome {
            self.outcomes[index].count &+= 1
            return
        }
        self.outcomes.append((outcome, 1))
    }
}

@available(*, unavailable)
extension RouteSeries: Sendable {}
