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

extension MeshIdentity {
    /// The service account and namespace an identity name stands for, or `nil` when the name is not one of this
    /// mesh's (another trust domain or control plane, or not an identity name at all).
    ///
    /// A namespace is one DNS label; a service account may hold dots, so the namespace is the label just before
    /// `.serviceaccount.` and the account is everything in front of it.
    public func parse(_ name: String) -> (serviceAccount: String, namespace: String)? {
        let suffix = ".serviceaccount.identity.\(self.controlPlaneNamespace).\(self.trustDomain)"
        guard name.hasSuffix(suffix) else { return nil }
        let head = name.dropLast(suffix.count)
        guard let dot = head.lastIndex(of: ".") else { return nil }
        let serviceAccount = String(head[..<dot])
        let namespace = String(head[head.index(after: dot)...])
        guard Self.isDNSLabel(namespace), !serviceAccount.isEmpty,
            serviceAccount.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ Self.isDNSLabel($0) })
        else { return nil }
        return (serviceAccount, namespace)
    }

    /// The name the identity service itself answers to, like Linkerd's `identity.linkerd.serviceaccount…`.
    public var identityServiceName: String {
        self.dnsName(serviceAccount: "identity", namespace: self.controlPlaneNamespace)
    }

    /// The tap service's name (Linkerd's `tap.linkerd-viz.serviceaccount…`): the one client, besides loopback, that a
    /// proxy's tap server answers (`SWIFTLET_PROXY_TAP_SVC_NAME`).
    public var tapServiceName: String {
        self.dnsName(serviceAccount: "tap", namespace: self.controlPlaneNamespace)
    }

    /// The name the Destination API answers to; proxies check it in the certificate it presents.
    public var destinationServiceName: String {
        self.dnsName(serviceAccount: "destination", namespace: self.controlPlaneNamespace)
    }

    /// RFC 1123 label: lower-case letters, digits and `-`, 1 to 63 characters, no `-` at either end.
    static func isDNSLabel(_ label: some StringProtocol) -> Bool {
        let bytes = Array(label.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
    }
}
