/// `viz stat-inbound`'s rows from the answers to a `RouteStatQuery`'s inbound queries: pure, tested without a Prometheus.
public struct InboundStatSummary: Sendable {
    public var query: RouteStatQuery
    public var statuses: [PrometheusSample] = []
    public var p50: [PrometheusSample] = []
    public var p95: [PrometheusSample] = []
    public var p99: [PrometheusSample] = []

    public init(query: RouteStatQuery) {
        self.query = query
    }

    struct RouteKey: Hashable, Comparable {
        var serverKind, serverName, port, kind, route: String

        init(_ labels: [String: String]) {
            self.serverKind = labels["srv_kind"] ?? ""
            self.serverName = labels["srv_name"] ?? ""
            self.port = labels["srv_port"] ?? ""
            self.kind = labels["route_kind"] ?? ""
            self.route = labels["route_name"] ?? ""
        }

        /// By port (numerically), then server, then route.
        static func < (lhs: RouteKey, rhs: RouteKey) -> Bool {
            (Int(lhs.port) ?? 0, lhs.serverName, lhs.route) < (Int(rhs.port) ?? 0, rhs.serverName, rhs.route)
        }
    }

    public var rows: [InboundStatRow] {
        let seconds = Double(max(self.query.window, 1))
        let counts = RouteStatSummary.counts(self.statuses, RouteKey.init)
        let (p50, p95, p99) = (
            RouteStatSummary.quantiles(self.p50, RouteKey.init), RouteStatSummary.quantiles(self.p95, RouteKey.init),
            RouteStatSummary.quantiles(self.p99, RouteKey.init)
        )
        return counts.keys.sorted().map { key in
            let count = counts[key]!
            return InboundStatRow(
                server: (key.serverKind == "default" ? "[default]" : key.serverName) + ":" + key.port,
                route: key.kind == "default" ? "[default]" : key.route, type: key.kind == "default" ? "" : key.kind,
                figures: .init(
                    success: count.total > 0 ? count.success / count.total : nil, rps: count.total / seconds, latencyMsP50: p50[key],
                    latencyMsP95: p95[key], latencyMsP99: p99[key]))
        }
    }

    /// The server routes of `query`, its queries asked of `client` at once.
    public static func fetch(_ query: RouteStatQuery, client: PrometheusClient) async throws -> InboundStatSummary {
        async let statuses = client.query(query.inboundStatuses)
        async let p50 = client.query(query.inboundLatency(0.5))
        async let p95 = client.query(query.inboundLatency(0.95))
        async let p99 = client.query(query.inboundLatency(0.99))
        var summary = InboundStatSummary(query: query)
        summary.statuses = try await statuses
        (summary.p50, summary.p95, summary.p99) = (try await p50, try await p95, try await p99)
        return summary
    }
}
