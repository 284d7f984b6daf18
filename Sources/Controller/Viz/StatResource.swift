/// A kind of resource `viz stat` reports on, as Linkerd names them (with kubectl's short names), and the label its
/// series carry: Prometheus's relabelling (`PrometheusScrapeConfig`) puts the owner of a proxy's pod on every series
/// as `deployment`, `statefulset`, …; a Job's as `k8s_job`; the destination's as the proxy's `dst_*` labels.
public enum StatResource: String, CaseIterable, Sendable {
    case deployment, statefulset, daemonset, job, cronjob, replicaset, replicationcontroller, pod, namespace, service

    /// `deploy`, `sts`, `po`, … as kubectl and Linkerd accept them; nil for a word that names none.
    public init?(word: String) {
        switch word.lowercased() {
        case "deploy", "deployment", "deployments": self = .deployment
        case "sts", "statefulset", "statefulsets": self = .statefulset
        case "ds", "daemonset", "daemonsets": self = .daemonset
        case "job", "jobs": self = .job
        case "cj", "cronjob", "cronjobs": self = .cronjob
        case "rs", "replicaset", "replicasets": self = .replicaset
        case "rc", "replicationcontroller", "replicationcontrollers": self = .replicationcontroller
        case "po", "pod", "pods": self = .pod
        case "ns", "namespace", "namespaces": self = .namespace
        case "svc", "service", "services": self = .service
        default: return nil
        }
    }

    /// What `all` means: every kind that has pods, and services.
    public static let all: [StatResource] = [.deployment, .statefulset, .daemonset, .job, .cronjob, .replicaset, .pod, .service]

    /// The words the error for an unknown type lists.
    public static let accepted = "deploy, sts, ds, job, cj, rs, rc, po, ns, svc or all"

    /// The label naming it on a proxy's own series (the source side).
    public var label: String {
        switch self {
        case .job: "k8s_job"
        case .service: "dst_service"
        default: self.rawValue
        }
    }

    /// The label naming it as a destination (`dst_deployment`, `dst_service`, …).
    public var destinationLabel: String {
        switch self {
        case .job: "dst_k8s_job"
        case .service: "dst_service"
        default: "dst_" + self.rawValue
        }
    }

    /// Its table's name for itself, as Linkerd's JSON has it.
    public var kind: String { self.rawValue }
}
