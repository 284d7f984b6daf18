import Foundation
import Testing

@testable import Controller

/// Local mode's Prometheus: the targets the controller writes for file-based discovery, and the scrape
/// configuration, whose proxy job is the one shipped for Kubernetes.
@Suite struct PrometheusTargetsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func workload(_ name: String, app: String, adminPort: Int?, meshed: Bool = true, owner: WorkloadSpec.Owner? = nil)
        -> WorkloadSpec
    {
        WorkloadSpec(
            key: ObjectKey(namespace: "emojivoto", name: name), labels: ["app": app, "app.kubernetes.io/part-of": "emojivoto"],
            address: "127.0.0.1", meshed: meshed, owner: owner ?? .init(kind: "Deployment", name: app), adminPort: adminPort)
    }

    static func groups(_ text: String) throws -> [(targets: [String], labels: [String: String])] {
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        return parsed.map { (($0["targets"] as? [String]) ?? [], ($0["labels"] as? [String: String]) ?? [:]) }
    }

    @Test func aMeshedWorkloadIsLabelledAsKubernetesDiscoveryLabelsAnInjectedPodsAdminPort() throws {
        let text = PrometheusTargets.fileSD(
            [
                Self.workload("web-0", app: "web", adminPort: 4191),
                Self.workload("db-0", app: "db", adminPort: 4192, owner: .init(kind: "StatefulSet", name: "db")),
            ],
            controlPlaneNamespace: "swiftlet")
        let groups = try Self.groups(text)
        #expect(groups.map(\.targets) == [["127.0.0.1:4192"], ["127.0.0.1:4191"]], "sorted by name: \(text)")
        let web = try #require(groups.last?.labels)
        #expect(web["__meta_kubernetes_namespace"] == "emojivoto" && web["__meta_kubernetes_pod_name"] == "web-0")
        #expect(web["__meta_kubernetes_pod_container_name"] == "swiftlet-proxy")
        #expect(web["__meta_kubernetes_pod_container_port_name"] == "swiftlet-admin")
        #expect(web["__meta_kubernetes_pod_label_swiftlet_io_control_plane_ns"] == "swiftlet", "what the job keeps by")
        #expect(web["__meta_kubernetes_pod_label_swiftlet_io_workload_ns"] == "emojivoto")
        #expect(web["__meta_kubernetes_pod_label_swiftlet_io_proxy_deployment"] == "web", "the owner, as the injector labels it")
        #expect(web["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"] == "emojivoto", "names sanitized as discovery does")
        #expect(groups.first?.labels["__meta_kubernetes_pod_label_swiftlet_io_proxy_statefulset"] == "db")
    }

    @Test func workloadsWithoutAProxyOrAnAdminPortAreNotTargets() throws {
        let text = PrometheusTargets.fileSD(
            [Self.workload("a", app: "a", adminPort: nil), Self.workload("b", app: "b", adminPort: 4191, meshed: false)],
            controlPlaneNamespace: "swiftlet")
        #expect(try Self.groups(text).isEmpty, "\(text)")
    }

    @Test func theSameMeshWritesTheSameBytes() {
        let workloads = (0..<5).map { Self.workload("w-\($0)", app: "w", adminPort: 5000 + $0) }
        #expect(
            PrometheusTargets.fileSD(workloads, controlPlaneNamespace: "swiftlet")
                == PrometheusTargets.fileSD(workloads.reversed(), controlPlaneNamespace: "swiftlet"))
    }

    @Test func anIPv6AddressIsBracketed() throws {
        var workload = Self.workload("v6", app: "v6", adminPort: 4191)
        workload.address = "fd00::5"
        #expect(
            try Self.groups(PrometheusTargets.fileSD([workload], controlPlaneNamespace: "swiftlet")).first?.targets == ["[fd00::5]:4191"])
    }

    /// deploy/prometheus/swiftlet-proxies.yaml (for a Prometheus of one's own on Kubernetes) relabels exactly as local
    /// mode's job does: one set of rules, which the end-to-end tests run through a real Prometheus.
    @Test func theShippedKubernetesJobRelabelsAsLocalModesDoes() throws {
        let shipped = try String(contentsOf: Self.root.appendingPathComponent("deploy/prometheus/swiftlet-proxies.yaml"), encoding: .utf8)
        let start = try #require(shipped.range(of: "    relabel_configs:\n"))
        let rules = shipped[start.lowerBound...].trimmingCharacters(in: .newlines)
        #expect(rules == PrometheusScrapeConfig.proxyRelabelling(controlPlaneNamespace: "swiftlet", indent: 4))
        let local = PrometheusScrapeConfig.local(
            targetsFile: "/t/proxies.json", controllerAdmin: "127.0.0.1:9990", controlPlaneNamespace: "swiftlet")
        #expect(local.contains(PrometheusScrapeConfig.proxyRelabelling(controlPlaneNamespace: "swiftlet", indent: 2)))
        #expect(local.contains("scrape_interval: 10s"))
    }
}
