import MeshModel

/// What the mesh reads of a Kubernetes `Service` (v1): which workloads it selects, how its ports map to theirs, and
/// the traffic policy its annotations set for requests no route takes.
public struct ServiceSpec: Hashable, Sendable {
    public struct Port: Hashable, Sendable {
        public var name: String?
        public var port: Int
        public var targetPort: TargetPort
        /// `appProtocol`, e.g. `kubernetes.io/h2c`, `grpc`, `linkerd.io/opaque`.
        public var appProtocol: String?

        public init(name: String? = nil, port: Int, targetPort: TargetPort? = nil, appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.targetPort = targetPort ?? .number(port)
            self.appProtocol = appProtocol
        }
    }

    /// A `targetPort`: a number, or the name of a port of the selected workloads.
    public enum TargetPort: Hashable, Sendable {
        case number(Int)
        case name(String)
    }

    public var key: ObjectKey
    /// Empty means the service selects nothing (Kubernetes: endpoints are managed by hand), not everything.
    public var selector: [String: String]
    public var ports: [Port]
    /// `spec.clusterIP`: traffic captured on its way to this address (transparent mode) is the service's.
    public var clusterIP: String?
    /// `retry.swiftlet.io/*`: for requests no route takes, and for routes' rules that say nothing of retries.
    public var retry: RouteRetry?
    /// `timeout.swiftlet.io/*`, the same way.
    public var timeouts: RouteTimeouts
    /// `balancer.swiftlet.io/failure-accrual: consecutive` and its settings.
    public var accrual: FailureAccrual?
    /// The `retry.swiftlet.io/budget-*` annotations' retry budget, for every route of the Service.
    public var budget: RetryBudget.Settings?

    public init(
        key: ObjectKey, selector: [String: String], ports: [Port], clusterIP: String? = nil, retry: RouteRetry? = nil,
        timeouts: RouteTimeouts = RouteTimeouts(), accrual: FailureAccrual? = nil, budget: RetryBudget.Settings? = nil
    ) {
        self.key = key
        self.selector = selector
        self.ports = ports
        self.clusterIP = clusterIP
        self.retry = retry
        self.timeouts = timeouts
        self.accrual = accrual
        self.budget = budget
    }
}
