import Controller
import Foundation
import Testing

@testable import CLI

/// `viz stat`'s table: Linkerd's columns and layout, `-` where there was no traffic.
@Suite struct StatTableTests {
    static let rows = [
        StatRow(
            namespace: "emojivoto", kind: "deployment", name: "web", meshed: "1/1", success: 0.9153, rps: 2.0, latencyMsP50: 1.04,
            latencyMsP95: 12.6, latencyMsP99: 40, tcpOpenConnections: 3, tcpReadBytesRate: 100, tcpWriteBytesRate: 2048.5),
        StatRow(namespace: "emojivoto", kind: "deployment", name: "vote-bot", meshed: "1/1"),
    ]

    @Test func aTableHasLinkerdsColumnsAndDashesForNoTraffic() {
        let table = StatTable.render(Self.rows, allNamespaces: false, wide: false, qualified: false)
        #expect(
            table == """
                NAME       MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN
                web           1/1    91.53%   2.0rps         1.0ms          13ms          40ms          3
                vote-bot      1/1         -        -             -             -             -          -

                """)
    }

    @Test func wideAddsBytesAllNamespacesTheNamespaceAndSeveralKindsQualifyNames() {
        let table = StatTable.render(Self.rows, allNamespaces: true, wide: true, qualified: true)
        let lines = table.split(separator: "\n")
        #expect(lines[0].hasPrefix("NAMESPACE   NAME") && lines[0].hasSuffix("READ_BYTES/SEC   WRITE_BYTES/SEC"), "\(table)")
        #expect(lines[1].hasPrefix("emojivoto   deploy/web ") && lines[1].hasSuffix("100.0B/s         2048.5B/s"), "\(table)")
    }

    @Test func jsonHasEveryKeyOnEveryRow() throws {
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(try StatTable.json(Self.rows).utf8)) as? [[String: Any]])
        #expect(Set(parsed[0].keys) == Set(parsed[1].keys))
        #expect(parsed[1]["rps"] is NSNull && parsed[0]["latency_ms_p99"] as? Double == 40)
    }
}

/// `viz routes` is `viz stat-outbound`: Linkerd users' word for a workload's per-route view.
@Suite struct VizRoutesAliasTests {
    @Test func routesParsesAsStatOutbound() throws {
        let command = try SwiftletCommand.parseAsRoot(["viz", "routes", "deploy/web", "-n", "emojivoto", "-t", "5m"])
        let routes = try #require(command as? VizStatOutboundCommand)
        #expect(try routes.options.query() == RouteStatQuery(resource: .deployment, name: "web", namespace: "emojivoto", window: 300))
    }
}

/// `viz stat-inbound`: Linkerd's columns, a row per server and route.
@Suite struct VizStatInboundTableTests {
    @Test func aServerPerRowUnderLinkerdsColumns() throws {
        let command = try SwiftletCommand.parseAsRoot(["viz", "stat-inbound", "deploy/voting", "-n", "emojivoto"])
        let inbound = try #require(command as? VizStatInboundCommand)
        #expect(try inbound.options.query() == RouteStatQuery(resource: .deployment, name: "voting", namespace: "emojivoto", window: 60))
        let table = VizStatInboundCommand.table(
            [
                InboundStatRow(
                    server: "[default]:8080", route: "[default]", type: "",
                    figures: .init(success: 0.9966, rps: 8.2, latencyMsP50: 18, latencyMsP95: 65, latencyMsP99: 93))
            ], name: "voting")
        let lines = table.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.first == ["NAME", "SERVER", "ROUTE", "TYPE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"])
        #expect(lines.last == ["voting", "[default]:8080", "[default]", "-", "99.66%", "8.2rps", "18ms", "65ms", "93ms"], "\(table)")
        #expect(throws: (any Error).self) { try SwiftletCommand.parseAsRoot(["viz", "stat-inbound", "svc/voting"]) }
    }
}
