/// One meshed pod a tap reaches: where its proxy's tap server listens and the identity it must present.
public struct TapPod: Hashable, Sendable {
    public var key: ObjectKey
    public var address: String
    public var tapPort: Int
    /// The proxy's mesh identity: the TLS server name asked for, and the name its certificate must carry.
    public var identity: String
    /// What tap events say of it: `namespace`, `pod`, its owner (`deployment: web`) and `serviceaccount`.
    public var resource: [String: String]

    public init(key: ObjectKey, address: String, tapPort: Int, identity: String, resource: [String: String]) {
        self.key = key
        self.address = address
        self.tapPort = tapPort
        self.identity = identity
        self.resource = resource
    }

    /// `namespace/name`, as events name the proxy that saw them.
    public var name: String { "\(self.key.namespace)/\(self.key.name)" }

    /// The labels a workload is shown by.
    static func resource(of workload: WorkloadSpec) -> [String: String] {
        var resource = ["namespace": workload.key.namespace, "pod": workload.key.name, "serviceaccount": workload.serviceAccount]
        if let owner = workload.owner { resource[owner.kind.lowercased()] = owner.name }
        return resource
    }
}
