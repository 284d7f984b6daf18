/// One running instance of an application: the local stand-in for a Pod (or Linkerd's ExternalWorkload).
///
/// `address` and `ports` say where the instance is reachable as the mesh sees it: in a network namespace, the
/// pod's IP and its application ports (iptables hands them to the proxy); on loopback, its proxy's inbound port.
public struct WorkloadSpec: Hashable, Sendable {
    public struct Port: Hashable, Sendable {
        public var name: String?
        public var port: Int

        public init(name: String? = nil, port: Int) {
            self.name = name
            self.port = port
        }
    }

    /// The object that manages the workload (a Deployment, StatefulSet, DaemonSet, Job, …): its endpoints'
    /// `dst_<kind>` label.
    public struct Owner: Hashable, Sendable {
        public var kind: String
        public var name: String

        /// The kinds that own pods, whose names Linkerd's metrics carry as `dst_<kind>`.
        public static let kinds = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"]

        public init(kind: String, name: String) {
            self.kind = kind
            self.name = name
        }
    }

    public var key: ObjectKey
    public var labels: [String: String]
    public var serviceAccount: String
    public var address: String
    public var ports: [Port]
    /// Whether a proxy runs beside it (its endpoints then carry an identity).
    public var meshed: Bool
    public var owner: Owner?
    /// Where its proxy's tap server listens, on `address` (a pod: the proxy container's port `swiftlet-tap`, 4190;
    /// a local Workload: `spec.tapPort`); `nil` when none is known.
    public var tapPort: Int?
    /// Where its proxy's admin server (`/metrics`) listens, on `address`: a local Workload's `spec.adminPort`, which
    /// local mode's Prometheus scrapes (`PrometheusTargets`); on Kubernetes Prometheus finds pods itself.
    public var adminPort: Int?
    /// The annotation `viz.swiftlet.io/disable-tap: "true"`: its proxy serves no tap, and tap says so by name.
    public var tapDisabled: Bool

    /// The annotation that turns a workload's tap off (the injector sets `SWIFTLET_PROXY_TAP_DISABLED` from it).
    public static let disableTapAnnotation = "viz.swiftlet.io/disable-tap"

    public init(
        key: ObjectKey, labels: [String: String], serviceAccount: String = "default", address: String,
        ports: [Port] = [], meshed: Bool = true, owner: Owner? = nil, tapPort: Int? = nil, adminPort: Int? = nil,
        tapDisabled: Bool = false
    ) {
        self.key = key
        self.labels = labels
        self.serviceAccount = serviceAccount
        self.address = address
        self.ports = ports
        self.meshed = meshed
        self.owner = owner
        self.tapPort = tapPort
        self.adminPort = adminPort
        self.tapDisabled = tapDisabled
    }

    /// Whether `selector` (non-empty) selects this workload.
    public func isSelected(by selector: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { self.labels[$0.key] == $0.value }
    }
}
