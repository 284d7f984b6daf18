import Testing

@testable import Controller

/// `viz stat-inbound`: its queries over the inbound route families, and a row per server and route made of the
/// answers.
@Suite struct InboundStatTests {
    static let query = RouteStatQuery(resource: .deployment, name: "voting", namespace: "emojivoto", window: 30)

    @Test func everyQueryReadsBothFamiliesOfTheResourcesProxiesByServerAndRoute() {
        #expect(
            Self.query.inboundStatuses
                == #"sum(increase({__name__=~"inbound_(http|grpc)_route_request_statuses_total", namespace="emojivoto", "#
                + #"deployment="voting"}[30s])) by (srv_kind, srv_name, srv_port, route_kind, route_namespace, route_name, "#
                + #"http_status, grpc_status, error)"#)
        #expect(
            Self.query.inboundLatency(0.95)
                == #"histogram_quantile(0.95, sum(rate({__name__=~"inbound_(http|grpc)_route_request_duration_seconds_bucket", "#
                + #"namespace="emojivoto", deployment="voting"}[30s])) by (le, srv_kind, srv_name, srv_port, route_kind, "#
                + #"route_namespace, route_name))"#)
        let namespace = RouteStatQuery(resource: .namespace, name: "shop", namespace: "default", window: 60)
        #expect(namespace.inboundStatuses.contains(#"_total", namespace="shop"}[60s]"#))
    }

    static func sample(_ labels: [String: String], _ value: Double) -> PrometheusSample { .init(labels: labels, value: value) }

    @Test func eachPortsDefaultServerIsARowWithItsSuccessRateAndLatencyAndPortsSortNumerically() {
        let http = [
            "srv_kind": "default", "srv_name": "all-unauthenticated", "srv_port": "8080", "route_kind": "default", "route_name": "default",
        ]
        let admin = http.merging(["srv_port": "4191"]) { $1 }
        let grpc = [
            "srv_kind": "default", "srv_name": "all-unauthenticated", "srv_port": "10000", "route_kind": "default", "route_name": "default",
        ]
        var summary = InboundStatSummary(query: Self.query)
        summary.statuses = [
            Self.sample(http.merging(["http_status": "200", "error": ""]) { $1 }, 240),
            Self.sample(http.merging(["http_status": "500", "error": ""]) { $1 }, 60),
            Self.sample(admin.merging(["http_status": "200", "error": ""]) { $1 }, 3),
            Self.sample(grpc.merging(["grpc_status": "0", "error": ""]) { $1 }, 27),
            Self.sample(grpc.merging(["grpc_status": "2", "error": ""]) { $1 }, 3),
        ]
        summary.p50 = [Self.sample(http, 0.012), Self.sample(grpc, .nan)]
        summary.p99 = [Self.sample(http, 0.25)]
        let rows = summary.rows
        #expect(rows.map(\.server) == ["[default]:4191", "[default]:8080", "[default]:10000"])
        #expect(rows.allSatisfy { $0.route == "[default]" && $0.type.isEmpty })
        #expect(rows[1].figures.success == 0.8 && rows[1].figures.rps == 10)
        #expect(rows[1].figures.latencyMsP50 == 12 && rows[1].figures.latencyMsP99 == 250)
        #expect(rows[2].figures.success == 0.9, "a gRPC status other than OK is a failure")
        #expect(rows[2].figures.latencyMsP50 == nil, "no requests in the window is no figure")
    }

    @Test func aPolicysServerAndRouteAreNamed() {
        var summary = InboundStatSummary(query: Self.query)
        let labels = [
            "srv_kind": "AuthorizationPolicy", "srv_name": "voting-api", "srv_port": "8080", "route_kind": "HTTPRoute",
            "route_namespace": "emojivoto", "route_name": "vote", "http_status": "200", "error": "",
        ]
        summary.statuses = [Self.sample(labels, 30)]
        #expect(
            summary.rows == [
                InboundStatRow(server: "voting-api:8080", route: "vote", type: "HTTPRoute", figures: .init(success: 1, rps: 1))
            ])
    }
}
