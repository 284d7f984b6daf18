/// How workload identities are named (DESIGN §2), shared by discovery and (next) the identity service.
public struct MeshIdentity: Hashable, Sendable {
    public var trustDomain: String
    public var controlPlaneNamespace: String

    public init(trustDomain: String = "cluster.local", controlPlaneNamespace: String = "swiftlet") {
        self.trustDomain = trustDomain
        self.controlPlaneNamespace = controlPlaneNamespace
    }

    /// `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`
    public func dnsName(serviceAccount: String, namespace: String) -> String {
        "\(serviceAccount).\(namespace).serviceaccount.identity.\(self.controlPlaneNamespace).\(self.trustDomain)"
    }

    /// `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`
    public func spiffeID(serviceAccount: String, namespace: String) -> String {
        "spiffe://\(self.trustDomain)/ns/\(namespace)/sa/\(serviceAccount)"
    }
}
