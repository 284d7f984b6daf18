/// An authority a proxy asks about, read as a Service and a port.
///
/// Accepts the forms a Kubernetes application writes: `web.ns.svc.cluster.local:80`, `web.ns.svc:80`,
/// `web.ns:80`, and `web:80` (in the asking proxy's namespace). A missing port means 80.
public struct DestinationAuthority: Hashable, Sendable {
    public var service: ObjectKey
    public var port: Int
    /// Set for a workload's own address (a pod IP), which a transparent proxy sees when an application dials a
    /// pod directly (a headless service, a StatefulSet member, a scraper): it resolves to that workload alone,
    /// with its identity, so the connection is mTLS too. `service` is then empty.
    public var workloadAddress: String?

    public init(service: ObjectKey, port: Int) {
        self.service = service
        self.port = port
    }

    /// The workload whose address is `ip`, at `port`.
    public init(workloadAddress ip: String, port: Int) {
        self.service = ObjectKey(namespace: "", name: "")
        self.port = port
        self.workloadAddress = ip
    }

    /// `nil` when the name cannot be a Service's (an IP address, a name outside the cluster domain).
    public init?(parsing authority: String, contextNamespace: String, clusterDomain: String = "cluster.local") {
        var host = Substring(authority)
        var port = 80
        if let colon = authority.lastIndex(of: ":") {
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            port = value
            host = authority[..<colon]
        }
        var labels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if labels.last == "" { labels.removeLast() }  // a fully qualified `web.ns.svc.cluster.local.`
        guard !labels.isEmpty, labels.allSatisfy({ FieldReader.isDNSLabel($0) }) else { return nil }
        let domain = clusterDomain.split(separator: ".").map(String.init)
        switch labels.count {
        case 1:
            guard !labels[0].allSatisfy(\.isNumber) else { return nil }
            self.init(service: ObjectKey(namespace: contextNamespace, name: labels[0]), port: port)
        case 2:
            self.init(service: ObjectKey(namespace: labels[1], name: labels[0]), port: port)
        case 3 where labels[2] == "svc":
            self.init(service: ObjectKey(namespace: labels[1], name: labels[0]), port: port)
        default:
            guard labels.count == 3 + domain.count, labels[2] == "svc", Array(labels[3...]) == domain else { return nil }
            self.init(service: ObjectKey(namespace: labels[1], name: labels[0]), port: port)
        }
    }
}
