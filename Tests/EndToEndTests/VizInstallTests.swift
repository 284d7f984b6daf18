import Foundation
import Testing

/// `swiftlet viz install`: strictly valid on the Kubernetes versions we support, and its Prometheus configuration run
/// by a real Prometheus finds the controller and the proxies as Kubernetes discovery would show them.
@Suite(.enabled(if: KubernetesValidate.available && E2E.available("prometheus"), "kubernetes-validate and prometheus"))
struct VizInstallTests {
    @Test func itsPrometheusScrapesTheControllerAndTheProxiesWithTheirLabels() async throws {
        try E2E.need("prometheus")
        let yaml = try await run(ControllerProcess.binary, ["viz", "install"])
        #expect(yaml.status == 0, "\(yaml.output)")
        try await KubernetesValidate.check(yaml.output)
        let json = try await run(ControllerProcess.binary, ["viz", "install", "-o", "json"])
        let objects = try installObjects(json.output)
        #expect(
            objects.map { "\($0["kind"] ?? "")" } == [
                "Namespace", "ConfigMap", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Service", "Deployment",
            ])
        let rules = field(objects.object("ClusterRole", "swiftlet-viz-prometheus"), "rules") as? [[String: Any]]
        #expect(rules?.count == 1 && rules?.first?["resources"] as? [String] == ["pods"], "discovery of pods, nothing more: \(rules ?? [])")
        let container = field(objects.object("Deployment", "prometheus"), "spec", "template", "spec", "containers", "0") as? [String: Any]
        #expect((container?["args"] as? [String])?.contains("--storage.tsdb.retention.time=6h") == true)
        #expect(field(container, "resources", "requests", "memory") as? String == "256Mi")
        #expect(
            decodedText(objects.object("ConfigMap", "swiftlet-viz-config"), "prometheusURL") == "http://prometheus.swiftlet-viz.svc:9090")

        // The configuration as shipped, with Kubernetes discovery (which Debian's Prometheus is built without) replaced
        // by a file holding what it would find: a controller pod and an injected pod, each port a target.
        let shipped = try #require(field(objects.object("ConfigMap", "prometheus-config"), "data", "prometheus.yml") as? String)
        let directory = try E2E.temporaryDirectory()
        let targets = directory.appendingPathComponent("pods.json")
        let discovery = "kubernetes_sd_configs:\n  - role: pod\n"
        #expect(shipped.components(separatedBy: discovery).count == 3, "two jobs discover pods: \(shipped)")
        let config = shipped.replacingOccurrences(of: "    namespaces:\n      names: [\"swiftlet\"]\n", with: "")
            .replacingOccurrences(of: discovery, with: "file_sd_configs:\n  - files: [\(targets.path)]\n")
        let controller = try await ControllerProcess.start(manifests: try E2E.temporaryDirectory())
        defer { controller.child.stop() }
        let proxy = try await ProxyProcess.start()
        defer { proxy.stop() }
        func pod(_ namespace: String, _ name: String, container: String, port: String, address: String, labels: [String: String])
            -> [String: Any]
        {
            var meta = [
                "__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": name,
                "__meta_kubernetes_pod_container_name": container,
                "__meta_kubernetes_pod_container_port_name": port,
            ]
            for (key, value) in labels { meta["__meta_kubernetes_pod_label_" + key] = value }
            return ["targets": [address], "labels": meta]
        }
        let pods: [[String: Any]] = [
            pod(
                "swiftlet", "swiftlet-controller-7d4-abcde", container: "controller", port: "admin",
                address: "127.0.0.1:\(controller.adminPort)",
                labels: ["swiftlet_io_control_plane_component": "controller"]),
            pod(
                "swiftlet", "swiftlet-controller-7d4-abcde", container: "controller", port: "grpc-dst", address: "127.0.0.1:1",
                labels: ["swiftlet_io_control_plane_component": "controller"]),
            pod(
                "shop", "web-5d9-x2x7q", container: "swiftlet-proxy", port: "swiftlet-admin", address: "127.0.0.1:\(proxy.adminPort)",
                labels: ["swiftlet_io_control_plane_ns": "swiftlet", "swiftlet_io_proxy_deployment": "web", "app": "web"]),
        ]
        try JSONSerialization.data(withJSONObject: pods).write(to: targets)
        try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let port = E2E.freePort()
        let prometheus = try ChildProcess(
            E2E.which("prometheus")!,
            [
                "--config.file=\(directory.appendingPathComponent("prometheus.yml").path)", "--web.listen-address=127.0.0.1:\(port)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            ], name: "prometheus")
        defer { prometheus.stop() }
        let found = try await LocalPrometheusTests.targets(port: port) {
            LocalPrometheusTests.isUp($0["web-5d9-x2x7q"]) && LocalPrometheusTests.isUp($0["swiftlet-controller"])
        }
        #expect(found.count == 2, "the controller's admin port and the proxy's, nothing else: \(found.keys)")
        let controllerLabels = try #require(found["swiftlet-controller"]?["labels"] as? [String: String])
        #expect(controllerLabels["component"] == "controller" && controllerLabels["control_plane_ns"] == "swiftlet", "\(controllerLabels)")
        let proxyLabels = try #require(found["web-5d9-x2x7q"]?["labels"] as? [String: String])
        #expect(proxyLabels["namespace"] == "shop" && proxyLabels["deployment"] == "web" && proxyLabels["job"] == "swiftlet-proxy")
    }

    @Test func oneOwnPrometheusIsNamedAndNoneDeployed() async throws {
        let own = try await run(
            ControllerProcess.binary, ["viz", "install", "--prometheus-url", "http://prom.monitoring:9090", "-o", "json"])
        let objects = try installObjects(own.output)
        #expect(objects.map { "\($0["kind"] ?? "")" } == ["Namespace", "ConfigMap"], "\(own.output)")
        #expect(decodedText(objects.object("ConfigMap", "swiftlet-viz-config"), "prometheusURL") == "http://prom.monitoring:9090")
        let bad = try await run(ControllerProcess.binary, ["viz", "install", "--prometheus-url", "prom:9090"])
        #expect(bad.status == 64 && bad.output.contains("an http:// or https:// URL"), "\(bad.output)")
    }

    func decodedText(_ object: [String: Any]?, _ key: String) -> String? { field(object, "data", key) as? String }
}
