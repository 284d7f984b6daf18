import Foundation
import Testing

/// deploy/prometheus/swiftlet-proxies.yaml run by a real Prometheus: the injected pod's proxy admin port is scraped
/// with Linkerd's label set, and nothing else of the pod is. Debian's Prometheus is built without Kubernetes service
/// discovery, so the test gives Prometheus the target as Kubernetes discovery would — its `__meta_kubernetes_*`
/// labels, made from what `swiftlet inject` puts in the pod — through a file, and keeps the relabelling as shipped.
@Suite(.enabled(if: E2E.available("prometheus")))
struct PrometheusScrapeConfigTests {
    static let configFile = E2E.packageRoot.appendingPathComponent("deploy/prometheus/swiftlet-proxies.yaml")

    /// What Kubernetes discovery (role pod) labels a target of one container port with (Prometheus' documentation:
    /// label names sanitized to `[a-zA-Z0-9_]`).
    static func discovered(pod: [String: Any], container: String, port: String, number: Int) -> [String: String] {
        let metadata = pod["metadata"] as? [String: Any] ?? [:]
        var labels = [
            "__meta_kubernetes_namespace": metadata["namespace"] as? String ?? "default",
            "__meta_kubernetes_pod_name": metadata["name"] as? String ?? "",
            "__meta_kubernetes_pod_container_name": container, "__meta_kubernetes_pod_container_port_name": port,
            "__meta_kubernetes_pod_container_port_number": String(number),
        ]
        for (name, value) in metadata["labels"] as? [String: String] ?? [:] {
            let sanitized = String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            labels["__meta_kubernetes_pod_label_" + sanitized] = value
        }
        return labels
    }

    @Test func anInjectedPodsProxyIsScrapedWithLinkerdsLabels() async throws {
        try E2E.need("prometheus")
        // A pod as the injector makes it from a Deployment `web` (its ReplicaSet names it).
        let anchors = try await TimingSensitiveTests.InjectTests.anchors()
        let input = """
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "registry.example/web:1",
                                        "ports": [{"name": "http", "containerPort": 8080}]}]}}}}
            """
        let injected = try await TimingSensitiveTests.InjectTests.swiftlet(
            ["inject", "--identity-trust-anchors-file", anchors], stdin: input)
        #expect(injected.status == 0, "\(injected.report)")
        let deployment = try #require(try JSONSerialization.jsonObject(with: Data(injected.output.utf8)) as? [String: Any])
        let proxy = (field(deployment, "spec", "template", "spec", "initContainers") as? [[String: Any]])?.first {
            $0["name"] as? String == "swiftlet-proxy"
        }
        #expect(
            (proxy?["ports"] as? [[String: Any]])?.contains { $0["name"] as? String == "swiftlet-admin" } == true, "the port the job keeps")
        var metadata = try #require(field(deployment, "spec", "template", "metadata") as? [String: Any])
        metadata["name"] = "web-5d9c7b-x2x7q"
        metadata["namespace"] = "shop"
        var labels = metadata["labels"] as? [String: String] ?? [:]
        labels["pod-template-hash"] = "5d9c7b"
        metadata["labels"] = labels
        let pod: [String: Any] = ["metadata": metadata]
        let directory = try E2E.temporaryDirectory()
        let targets: [[String: Any]] = [
            [
                "targets": ["127.0.0.1:1"],
                "labels": Self.discovered(pod: pod, container: "swiftlet-proxy", port: "swiftlet-admin", number: 4191),
            ],
            [
                "targets": ["127.0.0.1:2"],
                "labels": Self.discovered(pod: pod, container: "swiftlet-proxy", port: "swiftlet-proxy", number: 4143),
            ],
            ["targets": ["127.0.0.1:3"], "labels": Self.discovered(pod: pod, container: "web", port: "http", number: 8080)],
        ]
        try JSONSerialization.data(withJSONObject: targets).write(to: directory.appendingPathComponent("targets.json"))
        let shipped = try String(contentsOf: Self.configFile, encoding: .utf8)
        #expect(shipped.contains("kubernetes_sd_configs:\n      - role: pod\n"))
        let config = shipped.replacingOccurrences(
            of: "kubernetes_sd_configs:\n      - role: pod\n",
            with: "file_sd_configs:\n      - files: [\(directory.appendingPathComponent("targets.json").path)]\n")
        try config.write(to: directory.appendingPathComponent("prometheus.yaml"), atomically: true, encoding: .utf8)
        let port = E2E.freePort()
        let prometheus = try ChildProcess(
            E2E.which("prometheus")!,
            [
                "--config.file=\(directory.appendingPathComponent("prometheus.yaml").path)", "--web.listen-address=127.0.0.1:\(port)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            ], name: "prometheus")
        defer { prometheus.stop() }
        _ = try await prometheus.waitForLine(containing: "Server is ready to receive web requests")
        var active: [[String: Any]] = []
        var dropped: [[String: Any]] = []
        for _ in 0..<100 {
            let answer = try await run("curl", ["-sS", "http://127.0.0.1:\(port)/api/v1/targets"]).output
            let data = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])["data"] as? [String: Any]
            active = data?["activeTargets"] as? [[String: Any]] ?? []
            dropped = data?["droppedTargets"] as? [[String: Any]] ?? []
            if !active.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(active.count == 1, "only the admin port: \(active)")
        #expect(dropped.count == 2, "\(dropped)")
        let scraped = try #require(active.first?["labels"] as? [String: String])
        #expect(scraped["job"] == "swiftlet-proxy")
        #expect(scraped["namespace"] == "shop" && scraped["pod"] == "web-5d9c7b-x2x7q", "\(scraped)")
        #expect(scraped["deployment"] == "web", "the owner, as Linkerd's series have it: \(scraped)")
        #expect(scraped["control_plane_ns"] == "swiftlet", "\(scraped)")
        #expect(scraped["pod_template_hash"] == "5d9c7b" && scraped["app"] == "web", "the pod's own labels: \(scraped)")
        #expect(!scraped.keys.contains { $0.hasPrefix("swiftlet_io") || $0.hasPrefix("proxy_") }, "\(scraped)")
    }
}
