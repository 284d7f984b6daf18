/// The kinds of resource `swiftlet viz tap` names, by Linkerd's names and kubectl's short forms.
public enum TapResourceKind: String, CaseIterable, Sendable {
    case namespace, deployment, statefulset, daemonset, job, cronjob, replicaset, pod
    /// A destination only (`--to svc/web`): a Service has no proxy of its own to tap.
    case service

    /// From what a user types: `deploy`, `deployment`, `deployments`, `Deployment`; `nil` for anything else.
    public init?(parsing text: String) {
        let lower = text.lowercased()
        let short: [String: TapResourceKind] = [
            "ns": .namespace, "deploy": .deployment, "sts": .statefulset, "ds": .daemonset, "cj": .cronjob, "rs": .replicaset,
            "po": .pod, "svc": .service,
        ]
        if let kind = short[lower] ?? TapResourceKind(rawValue: lower) {
            self = kind
        } else if lower.hasSuffix("s"), let kind = TapResourceKind(rawValue: String(lower.dropLast())) {
            self = kind
        } else {
            return nil
        }
    }

    /// The path segment of the tap API (`deployments`), as a Kubernetes resource's plural.
    public var plural: String { self.rawValue + "s" }

    /// The kinds a tap can start from.
    public static let targets: [TapResourceKind] = [.namespace, .deployment, .statefulset, .daemonset, .job, .cronjob, .replicaset, .pod]
    /// The kinds `--to` can name: those discovery labels a destination with.
    public static let destinations: [TapResourceKind] = [.namespace, .service, .deployment, .statefulset, .daemonset, .job, .pod]

    /// The `WorkloadSpec.Owner` kind of the pods it manages (`Deployment`).
    var ownerKind: String? {
        switch self {
        case .deployment: "Deployment"
        case .statefulset: "StatefulSet"
        case .daemonset: "DaemonSet"
        case .job: "Job"
        case .cronjob: "CronJob"
        case .replicaset: "ReplicaSet"
        case .namespace, .pod, .service: nil
        }
    }
}
