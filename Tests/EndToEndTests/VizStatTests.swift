import Foundation
import Testing

/// `swiftlet viz stat` against a real Prometheus (the controller's, local mode) scraping a real proxy under a known
/// load: a fixed rate with a fixed share of failures, so the figures it prints can be checked against the truth.
@Suite(.enabled(if: E2E.available("prometheus", "h2load")))
struct VizStatTests {
    static func stat(_ arguments: [String], prometheus: Int) async throws -> (status: Int32, output: String) {
        try await run(ControllerProcess.binary, ["viz", "stat"] + arguments + ["--prometheus-url", "http://127.0.0.1:\(prometheus)"])
    }

    static func rows(_ output: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]], "\(output)")
    }

    @Test func theFiguresAreTheLoadsRateAndFailureShareWithMeshedPodsCounted() async throws {
        try E2E.need("prometheus", "h2load")
        let app = try await FixtureProcess.start("upstream.py")
        defer { app.child.stop() }
        let web = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(app.port)"])
        defer { web.stop() }
        let directory = try E2E.temporaryDirectory()
        let manifests = directory.appendingPathComponent("manifests")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        // Deployment web: web-0 meshed (scraped), web-1 without a proxy (counted, not scraped).
        try
            (LocalPrometheusTests.workload("web-0", app: "web", adminPort: web.adminPort)
            + "---\n"
                + """
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata: {name: web-1, namespace: demo, labels: {app: web}}
                spec: {address: 127.0.0.2, ports: [{name: http, port: 1}], meshed: false}

                """).write(to: manifests.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
        let port = E2E.freePort()
        let controller = try await ControllerProcess.start(
            manifests: manifests,
            extra: ["--prometheus", "127.0.0.1:\(port)", "--prometheus-dir", directory.appendingPathComponent("p").path])
        defer { controller.child.stop() }
        _ = try await LocalPrometheusTests.targets(port: port) {
            LocalPrometheusTests.isUp($0["web-0"]) && LocalPrometheusTests.isUp($0["swiftlet-controller"])
        }

        // 10 requests a second (2 clients at 5), one in five answered 500.
        let paths = ["/a", "/b", "/c", "/d", "/status/500"].map { "http://127.0.0.1:\(web.inboundPort)\($0)" }
        let load = try ChildProcess(
            E2E.which("h2load")!, ["--h1", "-c", "2", "--rps", "5", "-D", "300"] + paths, name: "h2load")
        defer { load.stop() }
        // Until Prometheus holds 30 s of the load: four scrapes with requests counted.
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let answer = try await run(
                "curl",
                [
                    "-sS", "-G", "http://127.0.0.1:\(port)/api/v1/query", "--data-urlencode",
                    "query=count_over_time((sum(response_total{direction=\"inbound\",pod=\"web-0\"}) > 0)[35s:5s])",
                ])
            if let value = answer.output.components(separatedBy: "\"").dropLast().last, Int(value) ?? 0 >= 7 { break }
            try await Task.sleep(for: .seconds(1))
        }

        let json = try await Self.stat(["deploy/web", "-n", "demo", "-t", "30s", "-o", "json"], prometheus: port)
        #expect(json.status == 0, "\(json.output)")
        let row = try #require(try Self.rows(json.output).first)
        #expect(row["name"] as? String == "web" && row["kind"] as? String == "deployment" && row["namespace"] as? String == "demo")
        #expect(row["meshed"] as? String == "1/2", "one pod with a proxy of two: \(row)")
        let rps = try #require(row["rps"] as? Double, "\(row)")
        #expect(abs(rps - 10) <= 1, "within 10 % of the load's 10 requests a second: \(rps)")
        let success = try #require(row["success"] as? Double, "\(row)")
        #expect(abs(success - 0.8) <= 0.01, "within a point of the load's 80 %: \(success)")
        for key in ["latency_ms_p50", "latency_ms_p95", "latency_ms_p99"] { #expect(row[key] as? Double != nil, "\(key): \(row)") }
        #expect((row["tcp_open_connections"] as? Int) == 2, "h2load's two connections: \(row)")
        #expect(Set(row.keys).isSuperset(of: ["tcp_read_bytes_rate", "tcp_write_bytes_rate"]), "every row has every key")

        // Per server and route: the application's port is a default server with its default route, the same figures.
        let inbound = try await run(
            ControllerProcess.binary,
            ["viz", "stat-inbound", "deploy/web", "-n", "demo", "-t", "30s", "-o", "json", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(inbound.status == 0, "\(inbound.output)")
        let servers = try Self.rows(inbound.output)
        #expect(servers.count == 1, "\(inbound.output)")
        #expect(servers.first?["server"] as? String == "[default]:\(app.port)" && servers.first?["route"] as? String == "[default]")
        let figures = try #require(servers.first?["figures"] as? [String: Any], "\(inbound.output)")
        #expect(abs((figures["rps"] as? Double ?? 0) - 10) <= 1 && abs((figures["success"] as? Double ?? 0) - 0.8) <= 0.01, "\(figures)")
        let table = try await run(
            ControllerProcess.binary, ["viz", "stat-inbound", "deploy/web", "-n", "demo", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(
            table.output.split(separator: "\n").first?.split(separator: " ") == [
                "NAME", "SERVER", "ROUTE", "TYPE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99",
            ], "\(table.output)")

        // The table, by pod: the meshed one with traffic, the other counted and empty.
        let pods = try await Self.stat(["po", "-n", "demo", "-t", "30s"], prometheus: port)
        #expect(pods.status == 0, "\(pods.output)")
        let lines = pods.output.split(separator: "\n")
        #expect(
            lines.first?.split(separator: " ", omittingEmptySubsequences: true) == [
                "NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN",
            ], "\(pods.output)")
        let web0 = try #require(lines.first { $0.hasPrefix("web-0 ") }, "\(pods.output)").split(separator: " ")
        #expect(web0[1] == "1/1" && web0[2].hasSuffix("%") && web0[3].hasSuffix("rps"), "\(web0)")
        let web1 = try #require(lines.first { $0.hasPrefix("web-1 ") }, "\(pods.output)").split(separator: " ")
        #expect(web1[1] == "0/1" && web1[2] == "-" && web1[3] == "-", "\(web1)")

        // -A puts the namespace first; nothing in a namespace with no pods and no traffic says so on stderr.
        let all = try await Self.stat(["deploy", "-A"], prometheus: port)
        #expect(all.output.hasPrefix("NAMESPACE") && all.output.contains("demo "), "\(all.output)")
        let none = try await Self.stat(["deploy", "-n", "nothing-here"], prometheus: port)
        #expect(none.status == 0 && none.output == "No traffic found.\n", "\(none.output)")
    }

    /// Bad input: one clear line each, and a non-zero exit.
    @Test func anUnknownTypeAShortWindowAndAnUnreachablePrometheusAreClearErrors() async throws {
        let unreachable = E2E.freePort()
        let type = try await Self.stat(["deploymentz"], prometheus: unreachable)
        #expect(type.status != 0 && type.output.contains("unknown resource type \"deploymentz\""), "\(type.output)")
        let window = try await Self.stat(["deploy", "-t", "5s"], prometheus: unreachable)
        #expect(window.status != 0 && window.output.contains("a window under 20s holds fewer than two scrapes"), "\(window.output)")
        let down = try await Self.stat(["deploy"], prometheus: unreachable)
        #expect(down.status == 1, "\(down.output)")
        #expect(
            down.output.trimmingCharacters(in: .newlines)
                == "Error: cannot reach Prometheus at http://127.0.0.1:\(unreachable): connection refused",
            "\(down.output)")
    }
}
