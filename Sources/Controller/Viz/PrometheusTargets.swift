import Foundation

/// Local mode's proxies as Prometheus's file-based discovery reads them: one target per meshed Workload whose proxy's
/// admin port is known (`spec.adminPort`), labelled as Kubernetes discovery labels a pod's admin port, with the labels
/// the injector would add (`swiftlet.io/control-plane-ns`, `swiftlet.io/workload-ns`, `swiftlet.io/proxy-<kind>`),
/// so that `PrometheusScrapeConfig`'s one set of rules serves both modes.
public enum PrometheusTargets {
    struct Group: Encodable, Equatable {
        var targets: [String]
        var labels: [String: String]
    }

    /// The file's contents (JSON), sorted so that an unchanged mesh writes the same bytes.
    public static func fileSD(_ workloads: some Sequence<WorkloadSpec>, controlPlaneNamespace: String) -> String {
        let groups =
            workloads
            .filter { $0.meshed && $0.adminPort != nil }
            .sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
            .map { Self.group($0, controlPlaneNamespace: controlPlaneNamespace) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Encoding strings and dictionaries of strings cannot fail.
        let data = (try? encoder.encode(groups)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func group(_ workload: WorkloadSpec, controlPlaneNamespace: String) -> Group {
        var podLabels = workload.labels
        podLabels[MeshLabels.controlPlaneNamespace] = controlPlaneNamespace
        podLabels[MeshLabels.workloadNamespace] = workload.key.namespace
        if let owner = workload.owner { podLabels["swiftlet.io/proxy-\(owner.kind.lowercased())"] = owner.name }
        var labels = [
            "__meta_kubernetes_namespace": workload.key.namespace,
            "__meta_kubernetes_pod_name": workload.key.name,
            "__meta_kubernetes_pod_container_name": PrometheusScrapeConfig.proxyContainer,
            "__meta_kubernetes_pod_container_port_name": PrometheusScrapeConfig.adminPortName,
            "__meta_kubernetes_pod_ip": workload.address,
        ]
        for (name, value) in podLabels {
            labels["__meta_kubernetes_pod_label_" + Self.sanitized(name)] = value
            labels["__meta_kubernetes_pod_labelpresent_" + Self.sanitized(name)] = "true"
        }
        let host = workload.address.contains(":") ? "[\(workload.address)]" : workload.address
        return Group(targets: ["\(host):\(workload.adminPort ?? 0)"], labels: labels)
    }

    /// A Kubernetes label's name as Prometheus's discovery writes it in a label name: every character other than a
    /// letter, a digit or `_` becomes `_` (`swiftlet.io/proxy-deployment` → `swiftlet_io_proxy_deployment`).
    public static func sanitized(_ name: String) -> String {
        String(
            name.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_")
                    ? Character(scalar) : "_"
            })
    }
}
