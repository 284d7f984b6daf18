import Testing

@testable import Controller

/// `viz stat-outbound`: its queries over the route families, and routes with their backends made of the answers.
@Suite struct RouteStatQueryTests {
    static let query = RouteStatQuery(resource: .deployment, name: "web", namespace: "emojivoto", window: 60)

    @Test func everyQueryReadsBothFamiliesOfTheResourcesProxies() {
        #expect(
            Self.query.statuses
                == #"sum(increase({__name__=~"outbound_(http|grpc)_route_request_statuses_total", namespace="emojivoto", "#
                + #"deployment="web"}[60s])) by (parent_namespace, parent_name, parent_port, route_kind, route_namespace, route_name, "#
                + #"http_status, grpc_status, error)"#)
        #expect(
            Self.query.latency(0.99).hasPrefix(
                #"histogram_quantile(0.99, sum(rate({__name__=~"outbound_(http|grpc)_route_request_duration"#))
        #expect(Self.query.backendRequests.hasSuffix("route_name, backend_namespace, backend_name, backend_port)"))
    }

    static func sample(_ labels: [String: String], _ value: Double) -> PrometheusSample { .init(labels: labels, value: value) }

    static let split = [
        "parent_namespace": "emojivoto", "parent_name": "voting", "parent_port": "8080", "route_kind": "HTTPRoute",
        "route_namespace": "emojivoto", "route_name": "voting-split",
    ]

    @Test func aRouteSharesOutItsSuccessesTimeoutsAndRetriesAndItsBackendsHangUnderIt() {
        var summary = RouteStatSummary(query: Self.query)
        summary.statuses = [
            Self.sample(Self.split.merging(["http_status": "200", "error": ""]) { $1 }, 540),
            Self.sample(Self.split.merging(["http_status": "503", "error": ""]) { $1 }, 30),
            Self.sample(Self.split.merging(["http_status": "", "error": "request_timeout"]) { $1 }, 30),
        ]
        summary.retries = [Self.sample(Self.split, 60)]
        summary.p50 = [Self.sample(Self.split, 0.004)]
        summary.p99 = [Self.sample(Self.split, .nan)]
        let v1 = Self.split.merging(["backend_namespace": "emojivoto", "backend_name": "voting", "backend_port": "8080"]) { $1 }
        let v2 = Self.split.merging(["backend_namespace": "emojivoto", "backend_name": "voting-v2", "backend_port": "8080"]) { $1 }
        summary.backendRequests = [Self.sample(v1, 594), Self.sample(v2, 66)]
        summary.backendStatuses = [
            Self.sample(v1.merging(["http_status": "200", "error": ""]) { $1 }, 500),
            Self.sample(v1.merging(["http_status": "500"]) { $1 }, 94),
            Self.sample(v2.merging(["grpc_status": "0", "error": ""]) { $1 }, 66),
        ]
        let rows = summary.rows
        #expect(rows.count == 1)
        let route = rows[0]
        #expect(route.service == "voting:8080" && route.route == "voting-split" && route.type == "HTTPRoute")
        #expect(route.figures.rps == 10 && route.figures.success == 0.9)
        #expect(route.timeouts == 0.05 && route.retries == 0.1)
        #expect(route.figures.latencyMsP50 == 4 && route.figures.latencyMsP99 == nil)
        #expect(route.backends.map(\.name) == ["voting", "voting-v2"])
        #expect(route.backends[0].figures.rps == 9.9 && route.backends[0].figures.success == 500.0 / 594)
        #expect(route.backends[1].figures.success == 1, "gRPC OK is a success")
    }

    @Test func aDefaultRouteIsNamedSo() {
        var summary = RouteStatSummary(query: Self.query)
        let labels = [
            "parent_namespace": "emojivoto", "parent_name": "emoji", "parent_port": "8080", "route_kind": "default", "route_name": "grpc",
            "grpc_status": "5", "error": "",
        ]
        summary.statuses = [Self.sample(labels, 60)]
        #expect(summary.rows.first?.route == "[default]" && summary.rows.first?.figures.success == 0)
    }
}
