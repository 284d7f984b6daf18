/// The PromQL of the dashboard's topology: every deployment-to-deployment edge over the window, by outcome and TLS,
/// and its p99 latency — the clients' side, as `viz stat --to` reads it.
public struct TopologyQuery: Sendable, Equatable {
    public var window: Int

    public init(window: Int) { self.window = window }

    static let matchers = #"{direction="outbound", deployment!="", dst_deployment!=""}"#
    static let edge = "namespace, deployment, dst_namespace, dst_deployment"

    public var requests: String {
        "sum(increase(response_total\(Self.matchers)[\(self.window)s])) by (\(Self.edge), classification, tls)"
    }

    public var p99: String {
        "histogram_quantile(0.99, sum(irate(response_latency_ms_bucket\(Self.matchers)[\(self.window)s])) by (le, \(Self.edge)))"
    }

    /// The topology of `namespace` (nil: the whole mesh), its queries asked of `client` at once.
    public func fetch(namespace: String?, client: PrometheusClient) async throws -> Topology {
        async let nodes = StatSummary.fetch(
            StatQuery(resource: .deployment, name: nil, namespace: nil, window: self.window), client: client)
        async let requests = client.query(self.requests)
        async let p99 = client.query(self.p99)
        return Topology(
            window: self.window, namespace: namespace, rows: try await nodes.rows, requests: try await requests, p99: try await p99)
    }
}
