import Testing

@testable import Controller

/// The dashboard's pure parts: whom it answers, the topology it draws, and what its pages weigh.
@Suite struct DashboardUnitTests {
    @Test func onlyLoopbackNamesAreAnsweredAgainstDNSRebinding() {
        for host in ["localhost:50750", "127.0.0.1:50750", "[::1]:50750", "LOCALHOST", "127.0.0.1"] {
            #expect(DashboardServer.isAllowed(host: host), "\(host)")
        }
        for host in [nil, "", "evil.example:50750", "127.0.0.1.evil.example", "localhost:80x", "[::1]x", "10.0.0.5:50750"] {
            #expect(!DashboardServer.isAllowed(host: host), "\(host ?? "nil")")
        }
        #expect(DashboardServer.isAllowed(host: "viz.internal:8084", allowed: ["viz.internal"]))
    }

    static func sample(_ labels: [String: String], _ value: Double) -> PrometheusSample { .init(labels: labels, value: value) }

    @Test func edgesCarryTheirRateSuccessLatencyAndTLSAndANamespaceKeepsItsNeighbours() {
        let edge = ["namespace": "shop", "deployment": "web", "dst_namespace": "shop", "dst_deployment": "api"]
        let other = ["namespace": "ops", "deployment": "cron", "dst_namespace": "ops", "dst_deployment": "db"]
        let rows = [
            StatRow(namespace: "shop", kind: "deployment", name: "web", meshed: "1/1"),
            StatRow(namespace: "shop", kind: "deployment", name: "api", meshed: "2/2", success: 0.9, rps: 5),
            StatRow(namespace: "ops", kind: "deployment", name: "db", meshed: "0/1"),
        ]
        let topology = Topology(
            window: 60, namespace: "shop", rows: rows,
            requests: [
                Self.sample(edge.merging(["classification": "success", "tls": "true"]) { $1 }, 540),
                Self.sample(edge.merging(["classification": "failure", "tls": "true"]) { $1 }, 60),
                Self.sample(other.merging(["classification": "success", "tls": "no_identity"]) { $1 }, 60),
            ],
            p99: [Self.sample(edge, 42), Self.sample(other, .nan)])
        #expect(topology.edges.count == 1, "another namespace's edge left out")
        let web = topology.edges[0]
        #expect(web.source == "shop/web" && web.destination == "shop/api" && web.rps == 10 && web.success == 0.9)
        #expect(web.latencyMsP99 == 42 && web.secured)
        #expect(topology.nodes.map(\.id) == ["shop/api", "shop/web"])
        let all = Topology(
            window: 60, namespace: nil, rows: rows, requests: [Self.sample(other.merging(["tls": "no_identity"]) { $1 }, 6)], p99: [])
        #expect(all.edges.first?.secured == false && all.nodes.map(\.id).contains("ops/cron"), "an unknown end is a node too")
    }

    @Test func thePagesWeighWellUnderAMegabyte() {
        #expect(DashboardAssets.weight < 64 * 1024, "\(DashboardAssets.weight) bytes")
        #expect(DashboardAssets.asset("/")?.body.contains("<script src=\"/app.js\" defer></script>") == true)
        #expect(DashboardAssets.asset("/nope") == nil)
    }
}
