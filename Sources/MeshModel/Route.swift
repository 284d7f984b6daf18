/// An HTTPRoute or GRPCRoute attached to a Service, as the proxy uses it.
public struct Route: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case http = "HTTPRoute"
        case grpc = "GRPCRoute"
    }

    public var kind: Kind
    public var namespace: String
    public var name: String
    /// Older routes win ties (Gateway API): Kubernetes' `creationTimestamp` in seconds, or in local mode the order in
    /// which the controller first saw the route.
    public var created: Int64
    /// Empty: every host.
    public var hostnames: [RouteHostname]
    public var rules: [RouteRule]

    public init(kind: Kind, namespace: String, name: String, created: Int64 = 0, hostnames: [RouteHostname] = [], rules: [RouteRule]) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.created = created
        self.hostnames = hostnames
        self.rules = rules
    }

    /// The precedence of the best of this route's hostnames that `host` matches; `nil` when none does.
    package func hostnameRank(_ host: Substring?) -> [Int]? {
        if self.hostnames.isEmpty { return [0, 0] }
        guard let host else { return nil }
        var best: [Int]? = nil
        for hostname in self.hostnames where hostname.matches(host) {
            let rank = hostname.rank
            if best == nil || best!.lexicographicallyPrecedes(rank) { best = rank }
        }
        return best
    }
}
