/// A mesh identity name as the proxy handles it: `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`.
public enum IdentityName {
    /// The parts of `name`, or `nil` when it is not an identity name. The namespace is the label before
    /// `.serviceaccount.identity.`; the control-plane namespace is the label after it; the rest is the trust domain.
    public static func parse(_ name: String) -> (
        serviceAccount: String, namespace: String, controlPlaneNamespace: String, trustDomain: String
    )? {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard
            let marker = labels.indices.first(where: {
                labels[$0] == "serviceaccount" && $0 + 1 < labels.count && labels[$0 + 1] == "identity"
            }),
            marker >= 2, marker + 3 < labels.count, labels.allSatisfy({ !$0.isEmpty })
        else { return nil }
        return (
            labels[..<(marker - 1)].joined(separator: "."), labels[marker - 1], labels[marker + 2],
            labels[(marker + 3)...].joined(separator: ".")
        )
    }

    /// The identity service's own name in the mesh `local` belongs to (Linkerd's `identity.linkerd.serviceaccount…`).
    public static func identityService(for local: String) -> String? {
        Self.controlPlaneService("identity", for: local)
    }

    /// The Destination API's name in the mesh `local` belongs to.
    public static func destinationService(for local: String) -> String? {
        Self.controlPlaneService("destination", for: local)
    }

    static func controlPlaneService(_ account: String, for local: String) -> String? {
        guard let parts = Self.parse(local) else { return nil }
        return "\(account).\(parts.controlPlaneNamespace).serviceaccount.identity.\(parts.controlPlaneNamespace).\(parts.trustDomain)"
    }
}
