import Foundation
import Testing

/// `swiftlet controller --prometheus` with the system's Prometheus: every Workload's proxy is scraped with Linkerd's
/// label set, the controller too, Workloads added later are followed, and Prometheus goes when the controller goes.
@Suite(.enabled(if: E2E.available("prometheus", "promtool")))
struct LocalPrometheusTests {
    static func workload(_ name: String, app: String, adminPort: Int) -> String {
        """
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: \(name), namespace: demo, labels: {app: \(app)}}
        spec: {serviceAccount: \(app), address: 127.0.0.1, ports: [{name: http, port: 1}], adminPort: \(adminPort)}

        """
    }

    /// Prometheus's active targets, by `pod` (or the job, for the controller), once `ready` holds of them.
    static func targets(port: Int, until ready: ([String: [String: Any]]) -> Bool) async throws -> [String: [String: Any]] {
        var last: [String: [String: Any]] = [:]
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let answer = try await run("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/api/v1/targets"])
            if answer.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any],
                let active = (object["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]]
            {
                last = [:]
                for target in active {
                    let labels = target["labels"] as? [String: String] ?? [:]
                    last[labels["pod"] ?? labels["job"] ?? "?"] = target
                }
                if ready(last) { return last }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw HarnessError("Prometheus's targets never got there: \(last)")
    }

    static func isUp(_ target: [String: Any]?) -> Bool { target?["health"] as? String == "up" }

    @Test func everyWorkloadsProxyAndTheControllerAreScrapedWithLinkerdsLabels() async throws {
        try E2E.need("prometheus", "promtool")
        let web = try await ProxyProcess.start()
        defer { web.stop() }
        let voting = try await ProxyProcess.start()
        defer { voting.stop() }
        let directory = try E2E.temporaryDirectory()
        let manifests = directory.appendingPathComponent("manifests")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        try Self.workload("web-0", app: "web", adminPort: web.adminPort)
            .write(to: manifests.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
        let port = E2E.freePort()
        let data = directory.appendingPathComponent("prometheus")
        let controller = try await ControllerProcess.start(
            manifests: manifests, extra: ["--prometheus", "127.0.0.1:\(port)", "--prometheus-dir", data.path])
        var stopped = false
        defer { if !stopped { controller.child.stop() } }

        // The configuration it runs is one Prometheus's own checker accepts.
        let checked = try await run("promtool", ["check", "config", data.appendingPathComponent("prometheus.yml").path])
        #expect(checked.status == 0, "\(checked.output)")

        let first = try await Self.targets(port: port) { Self.isUp($0["web-0"]) && Self.isUp($0["swiftlet-controller"]) }
        let labels = try #require(first["web-0"]?["labels"] as? [String: String])
        #expect(labels["job"] == "swiftlet-proxy" && labels["instance"] == "127.0.0.1:\(web.adminPort)", "\(labels)")
        #expect(labels["namespace"] == "demo" && labels["pod"] == "web-0", "\(labels)")
        #expect(labels["deployment"] == "web", "the owner, added by Prometheus as Linkerd's are: \(labels)")
        #expect(labels["control_plane_ns"] == "swiftlet" && labels["workload_ns"] == "demo", "\(labels)")
        #expect(labels["app"] == "web", "the pod's own labels: \(labels)")
        #expect(!labels.keys.contains { $0.hasPrefix("__") || $0.hasPrefix("swiftlet_io") }, "\(labels)")

        // A Workload added later is scraped without a restart: the controller rewrites the targets file.
        try Self.workload("voting-0", app: "voting", adminPort: voting.adminPort)
            .write(to: manifests.appendingPathComponent("voting.yaml"), atomically: true, encoding: .utf8)
        let second = try await Self.targets(port: port) { Self.isUp($0["voting-0"]) }
        #expect((second["voting-0"]?["labels"] as? [String: String])?["deployment"] == "voting")

        // What it scraped answers queries with those labels.
        let query = try await run(
            "curl",
            [
                "-sS", "--max-time", "5", "-G", "http://127.0.0.1:\(port)/api/v1/query", "--data-urlencode",
                "query=up{job=\"swiftlet-proxy\"}",
            ])
        #expect(query.output.contains("\"deployment\":\"web\"") && query.output.contains("\"pod\":\"web-0\""), "\(query.output)")

        // `viz check` finds it all in order; a proxy that stops is named, a warning (the rest still works).
        let check = try await run(ControllerProcess.binary, ["viz", "check", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(check.status == 0, "\(check.output)")
        for line in [
            "✔ Prometheus is reachable", "✔ Prometheus scrapes the controller", "✔ Prometheus scrapes the data plane's proxies",
            "    note: 2 targets up", "✔ the controller's inventory of pods is present", "Status check results are ✔",
        ] {
            #expect(check.output.contains(line + "\n"), "\(line): \(check.output)")
        }
        voting.stop()
        var warned = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            warned = try await run(ControllerProcess.binary, ["viz", "check", "--prometheus-url", "http://127.0.0.1:\(port)"]).output
            if warned.contains("‼ Prometheus scrapes the data plane's proxies") { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(warned.contains("‼ Prometheus scrapes the data plane's proxies\n    1 of 2 down: voting-0\n"), "\(warned)")
        #expect(warned.contains("Status check results are ✔"), "a warning does not fail the check: \(warned)")

        // Prometheus goes with the controller.
        controller.child.signal(SIGTERM)
        _ = try await controller.child.waitForExit()
        stopped = true
        let gone = try await run("curl", ["-sS", "--max-time", "2", "http://127.0.0.1:\(port)/-/ready"])
        #expect(gone.status != 0, "Prometheus still answers after the controller stopped: \(gone.output)")
        let failed = try await run(ControllerProcess.binary, ["viz", "check", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(failed.status == 1, "\(failed.output)")
        #expect(
            failed.output.contains(
                "× Prometheus is reachable\n    cannot reach Prometheus at http://127.0.0.1:\(port): connection refused\n"),
            "\(failed.output)")
    }
}
