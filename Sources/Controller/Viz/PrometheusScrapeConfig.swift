/// The scrape configuration of viz's Prometheus, in both modes: every proxy's admin port (`swiftlet-admin`, 4191 in
/// a pod) and the controller's, every 10 s.
///
/// The proxy job relabels as Linkerd's `linkerd-proxy` job does, with our label names: Prometheus — not the proxy —
/// adds `namespace`, `pod`, the owner (`deployment`, `statefulset`, … from the injected `swiftlet.io/proxy-<kind>`
/// label), `control_plane_ns`, `workload_ns`, and the pod's own labels. A proxy's series stay as few as its traffic
/// makes them; what Prometheus adds is the same on every series of a target, so it adds bytes, not series.
///
/// One set of rules serves both modes: on Kubernetes the labels come from Kubernetes service discovery; in local mode
/// from a file the controller writes (`PrometheusTargets`) with the same `__meta_kubernetes_*` labels the discovery
/// would give the workload's pod — so what the local tests check is what a cluster runs.
public enum PrometheusScrapeConfig {
    public static let proxyJob = "swiftlet-proxy"
    public static let controllerJob = "swiftlet-controller"
    /// Seconds between scrapes: viz's shortest meaningful window is two of them (`viz stat -t` refuses less).
    public static let scrapeIntervalSeconds = 10
    /// The proxy container and its admin port's name, as the injector makes them.
    public static let proxyContainer = "swiftlet-proxy"
    public static let adminPortName = "swiftlet-admin"

    /// The proxy job's `relabel_configs` (YAML, indented as a key of a job entry at `indent` spaces). The same rules
    /// as deploy/prometheus/swiftlet-proxies.yaml, the job for a Prometheus of one's own on Kubernetes (a test holds
    /// the two equal).
    static func proxyRelabelling(controlPlaneNamespace: String, indent: Int = 2) -> String {
        let rules = """
            relabel_configs:
              # Only the proxy's admin port of pods injected by this control plane.
              - source_labels:
                  - __meta_kubernetes_pod_container_name
                  - __meta_kubernetes_pod_container_port_name
                  - __meta_kubernetes_pod_label_swiftlet_io_control_plane_ns
                action: keep
                regex: ^\(Self.proxyContainer);\(Self.adminPortName);\(controlPlaneNamespace)$
              - source_labels: [__meta_kubernetes_namespace]
                action: replace
                target_label: namespace
              - source_labels: [__meta_kubernetes_pod_name]
                action: replace
                target_label: pod
              # A Job's name is `k8s_job`: `job` is Prometheus' own.
              - source_labels: [__meta_kubernetes_pod_label_swiftlet_io_proxy_job]
                action: replace
                target_label: k8s_job
              - action: labeldrop
                regex: __meta_kubernetes_pod_label_swiftlet_io_proxy_job
              # swiftlet.io/proxy-deployment=web → deployment="web" (and statefulset, daemonset, replicaset, cronjob, …).
              - action: labelmap
                regex: __meta_kubernetes_pod_label_swiftlet_io_proxy_(.+)
              - action: labeldrop
                regex: __meta_kubernetes_pod_label_swiftlet_io_proxy_(.+)
              # swiftlet.io/control-plane-ns=swiftlet → control_plane_ns="swiftlet".
              - action: labelmap
                regex: __meta_kubernetes_pod_label_swiftlet_io_(.+)
              # The pod's own labels (app, version, pod-template-hash, …), as Linkerd keeps them.
              - action: labelmap
                regex: __meta_kubernetes_pod_label_(.+)
                replacement: __tmp_pod_label_$1
              - action: labeldrop
                regex: __tmp_pod_label_swiftlet_io_(.+)
              - action: labelmap
                regex: __tmp_pod_label_(.+)
            """
        let margin = String(repeating: " ", count: indent)
        return rules.split(separator: "\n", omittingEmptySubsequences: false).map { margin + $0 }.joined(separator: "\n")
    }

    /// The global section and the start of the controller job, which both modes share.
    static func header(writtenBy: String) -> String {
        """
        # Written by \(writtenBy).
        global:
          scrape_interval: \(Self.scrapeIntervalSeconds)s
          scrape_timeout: \(Self.scrapeIntervalSeconds)s
          evaluation_interval: \(Self.scrapeIntervalSeconds)s
        scrape_configs:
        - job_name: \(Self.controllerJob)
          # Its series describe other objects (controller_pod_info's namespace and pod): their labels are kept as they are.
          honor_labels: true
        """
    }

    /// Local mode's whole configuration: the proxies from `targetsFile` (file-based discovery, re-read by Prometheus
    /// as the controller rewrites it), the controller at `controllerAdmin`.
    public static func local(targetsFile: String, controllerAdmin: String, controlPlaneNamespace: String) -> String {
        """
        \(Self.header(writtenBy: "swiftlet controller --prometheus: viz's Prometheus in local mode"))
          static_configs:
          - targets: ["\(controllerAdmin)"]
            labels: {component: controller, control_plane_ns: "\(controlPlaneNamespace)"}
        - job_name: \(Self.proxyJob)
          file_sd_configs:
          - files: ["\(targetsFile)"]
            refresh_interval: 30s
        \(Self.proxyRelabelling(controlPlaneNamespace: controlPlaneNamespace))

        """
    }

    /// The configuration of the Prometheus `swiftlet viz install` deploys: the same proxy job, its targets from
    /// Kubernetes discovery, and the controller's pods by their `admin` port.
    public static func kubernetes(controlPlaneNamespace: String) -> String {
        """
        \(Self.header(writtenBy: "swiftlet viz install: viz's Prometheus on Kubernetes"))
          kubernetes_sd_configs:
          - role: pod
            namespaces:
              names: ["\(controlPlaneNamespace)"]
          relabel_configs:
          - source_labels: [__meta_kubernetes_pod_label_swiftlet_io_control_plane_component, __meta_kubernetes_pod_container_port_name]
            action: keep
            regex: ^controller;admin$
          - target_label: component
            replacement: controller
          - target_label: control_plane_ns
            replacement: "\(controlPlaneNamespace)"
        - job_name: \(Self.proxyJob)
          kubernetes_sd_configs:
          - role: pod
        \(Self.proxyRelabelling(controlPlaneNamespace: controlPlaneNamespace))

        """
    }
}
