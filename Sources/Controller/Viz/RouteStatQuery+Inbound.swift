/// The PromQL of `swiftlet viz stat-inbound`: the same resource and window, its inbound traffic per server (a port,
/// under the policy that governs it) and per route on it, from the inbound route families the proxy exports as
/// Linkerd 2.17's do (`inbound_{http,grpc}_route_…`). SUCCESS is stat-outbound's: no proxy error, and a status below
/// 500 (gRPC: OK). Latency is the server's: from the request's arrival at the workload's proxy to the response's end.
extension RouteStatQuery {
    static let server = "srv_kind, srv_name, srv_port, route_kind, route_namespace, route_name"

    public var inboundStatuses: String {
        let series = self.selector(metrics: "inbound_(http|grpc)_route_request_statuses_total")
        return "sum(increase(\(series)[\(self.window)s])) by (\(Self.server), \(Self.outcome))"
    }

    public func inboundLatency(_ quantile: Double) -> String {
        let series = self.selector(metrics: "inbound_(http|grpc)_route_request_duration_seconds_bucket")
        return "histogram_quantile(\(quantile), sum(rate(\(series)[\(self.window)s])) by (le, \(Self.server)))"
    }
}
