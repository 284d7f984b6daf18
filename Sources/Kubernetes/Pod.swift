/// What the mesh reads of a `v1 Pod`: who it is (labels, owner, ServiceAccount), where it is (its IP and ports),
/// and whether it runs (phase, readiness, container states for `check --proxy`).
public struct Pod: KubernetesObject, Hashable {
    public struct Spec: Codable, Hashable, Sendable {
        public var serviceAccountName: String?
        public var nodeName: String?
        public var containers: [Container]?
        public var initContainers: [Container]?
    }

    public struct Container: Codable, Hashable, Sendable {
        public struct Port: Codable, Hashable, Sendable {
            public var name: String?
            public var containerPort: Int
            public var `protocol`: String?
        }

        public var name: String
        public var image: String?
        public var ports: [Port]?
        public var restartPolicy: String?
    }

    public struct Status: Codable, Hashable, Sendable {
        public struct Condition: Codable, Hashable, Sendable {
            public var type: String
            public var status: String
        }

        public struct ContainerStatus: Codable, Hashable, Sendable {
            public var name: String
            public var ready: Bool?
            public var started: Bool?
            public var image: String?
        }

        public var phase: String?
        public var podIP: String?
        public var conditions: [Condition]?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?
    }

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    /// Whether the pod's `Ready` condition is true.
    public var isReady: Bool { self.status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false }
}
