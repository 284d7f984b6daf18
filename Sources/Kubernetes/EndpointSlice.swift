/// What the mesh reads of a `discovery.k8s.io/v1 EndpointSlice`: the Service it belongs to (its
/// `kubernetes.io/service-name` label), its ports by name, and its endpoints with readiness and the Pod behind each.
public struct EndpointSlice: KubernetesObject, Hashable {
    public struct Port: Codable, Hashable, Sendable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
        public var appProtocol: String?
    }

    public struct Endpoint: Codable, Hashable, Sendable {
        public struct Conditions: Codable, Hashable, Sendable {
            public var ready: Bool?
            public var serving: Bool?
            public var terminating: Bool?
        }

        public struct TargetRef: Codable, Hashable, Sendable {
            public var kind: String?
            public var name: String?
            public var namespace: String?
        }

        public var addresses: [String]
        public var conditions: Conditions?
        public var targetRef: TargetRef?
    }

    public static let serviceNameLabel = "kubernetes.io/service-name"

    public var metadata: ObjectMeta
    public var addressType: String?
    public var endpoints: [Endpoint]?
    public var ports: [Port]?
}
