import Foundation
import Testing

extension TimingSensitiveTests {
    /// The quantiles `viz stat-outbound` prints for a route are within 10 % of the truth: an upstream answers a
    /// thousand requests after delays drawn from an exponential distribution (a long tail, as real services have), a
    /// real Prometheus scrapes the client's proxy, and p50/p95/p99 from its `histogram_quantile` are compared with
    /// those of the latencies the client measured. The eleven bounds these histograms had (Linkerd's are coarser
    /// still: its issue #13483) put such a p95 a quarter too high.
    @Suite(.enabled(if: E2E.available("prometheus", "curl")))
    struct RouteLatencyTests {
        /// 1,000 delays in milliseconds: 30 ms and an exponential tail of mean 50 ms (p50 ≈ 65 ms, p99 ≈ 260 ms), in a
        /// fixed shuffled order so that concurrent requests do not see neighbouring values.
        static let delays: [Double] = {
            let values = (0..<1000).map { 30 - 50 * log(1 - (Double($0) + 0.5) / 1000) }
            return (0..<1000).map { values[($0 * 379) % 1000] }  // 379 is prime to 1,000: a permutation
        }()

        /// One value of an instant query, or nil while Prometheus has none.
        static func query(_ port: Int, _ query: String) async throws -> Double? {
            let answer = try await run(
                "curl", ["-sS", "--max-time", "5", "-G", "http://127.0.0.1:\(port)/api/v1/query", "--data-urlencode", "query=\(query)"])
            guard let object = try? JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any],
                let result = (object["data"] as? [String: Any])?["result"] as? [[String: Any]],
                let value = (result.first?["value"] as? [Any])?.last as? String
            else { return nil }
            return Double(value)
        }

        static func until(_ what: String, _ check: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                if try await check() { return }
                try await Task.sleep(for: .seconds(1))
            }
            throw HarnessError("timed out waiting for \(what)")
        }

        @Test func p50P95AndP99OfARouteAreWithinTenPercentOfTheTruth() async throws {
            try E2E.need("prometheus", "curl")
            let prometheus = E2E.freePort()
            let directory = try E2E.temporaryDirectory()
            let route = TrafficPolicyTests.route("web-slow", "  - backendRefs: [{name: web, port: 8080}]\n")
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"]],
                arguments: ["web-a": ["--delays", Self.delays.map { String(format: "%.3f", $0) }.joined(separator: ",")]],
                documents: ["route.yaml": route],
                controllerArguments: ["--prometheus", "127.0.0.1:\(prometheus)", "--prometheus-dir", directory.path])
            defer { withExtendedLifetime(mesh) {} }
            // The client's proxy as a workload of the mesh, so Prometheus scrapes it.
            try mesh.write("client.yaml", LocalPrometheusTests.workload("client-0", app: "client", adminPort: mesh.proxy.adminPort))
            _ = try await LocalPrometheusTests.targets(port: prometheus) { LocalPrometheusTests.isUp($0["client-0"]) }

            // One request first, and a scrape that holds the route's series: the load's increase is then all counted
            // (a series' first sample has no increase before it).
            #expect(try await mesh.send("/", count: 1).ok == 1)
            let count = "sum(outbound_http_route_request_duration_seconds_count{pod=\"client-0\",route_name=\"web-slow\"})"
            try await Self.until("the route's first sample") { try await Self.query(prometheus, count) == 1 }
            // Then the thousand: one each of the delays (the upstream's counter has moved by one; a full cycle of
            // the list is still every delay once).
            let result = try await mesh.send("/", count: Self.delays.count, connections: 8)
            #expect(result.ok == Self.delays.count, "\(result)")
            try await Self.until("a scrape after the load") {
                try await Self.query(prometheus, count) == Double(Self.delays.count + 1)
            }

            let stat = try await run(
                ControllerProcess.binary,
                [
                    "viz", "stat-outbound", "deploy/client", "-n", "demo", "-t", "1m", "-o", "json", "--prometheus-url",
                    "http://127.0.0.1:\(prometheus)",
                ])
            #expect(stat.status == 0, "\(stat.output)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(stat.output.utf8)) as? [[String: Any]], "\(stat.output)")
            let row = try #require(rows.first { $0["route"] as? String == "web-slow" }, "\(stat.output)")
            let backend = try #require((row["backends"] as? [[String: Any]])?.first?["figures"] as? [String: Any], "\(row)")
            // The truth is what the client measured of each request (the upstream's delay, and the time to and
            // through the proxy and back): the proxy's own durations are within it.
            for (key, q) in [("latency_ms_p50", 0.5), ("latency_ms_p95", 0.95), ("latency_ms_p99", 0.99)] {
                let truth = try #require(result.quantilesMilliseconds[q], "\(result)")
                for (what, figures) in [("route", row["figures"] as? [String: Any]), ("backend", backend)] {
                    let estimate = try #require(figures?[key] as? Double, "\(what) \(key): \(row)")
                    #expect(abs(estimate - truth) / truth <= 0.10, "\(what) \(key): \(estimate) ms against \(truth) ms")
                }
            }
        }
    }
}
