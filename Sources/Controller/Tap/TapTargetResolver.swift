import Foundation
import SwiftletAPI

/// Resolves what a tap names — its target and its `--to` — against the cluster's workloads: the meshed pods whose
/// proxies to ask, and the destination match that `--to` adds. Pure, so every refusal is tested without a proxy.
public enum TapTargetResolver {
    public typealias Resource = Swiftlet_Tap_V1_Resource
    public typealias Match = Swiftlet_Tap_V1_ObserveRequest.Match

    /// The pods to tap, sorted by name, and a line for each pod of the target that cannot be tapped (tap disabled,
    /// no tap port) when others can. Throws when none can, saying why.
    public static func pods(
        _ target: Resource, selector: [String: String] = [:], in workloads: some Collection<WorkloadSpec>, identity: MeshIdentity
    ) throws(TapError) -> (pods: [TapPod], skipped: [String]) {
        let kind = try Self.kind(target, allowed: TapResourceKind.targets, role: "a tap target")
        let namespace = kind == .namespace ? target.name : target.namespace
        guard !namespace.isEmpty else { throw TapError(.invalidRequest, "the target has no namespace") }
        let chosen = workloads.filter { workload in
            workload.key.namespace == namespace && Self.selects(kind, name: target.name, workload)
                && selector.allSatisfy { workload.labels[$0.key] == $0.value }
        }.sorted { $0.key < $1.key }
        var what = Self.describe(kind, target.name, namespace: namespace)
        if !selector.isEmpty {
            what += " with labels " + selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        guard !chosen.isEmpty else { throw TapError(.notFound, "no pods found for \(what)") }
        let meshed = chosen.filter(\.meshed)
        guard !meshed.isEmpty else {
            throw TapError(
                .notTappable,
                "\(what) has \(Self.count(chosen.count, "pod")) and none is meshed; mesh them first (swiftlet inject), then tap")
        }
        var pods: [TapPod] = []
        var skipped: [String] = []
        for workload in meshed {
            if workload.tapDisabled {
                skipped.append(
                    "pod \(workload.key.namespace)/\(workload.key.name): tap is disabled (annotation \(WorkloadSpec.disableTapAnnotation))")
            } else if let port = workload.tapPort {
                pods.append(
                    TapPod(
                        key: workload.key, address: workload.address, tapPort: port,
                        identity: identity.dnsName(serviceAccount: workload.serviceAccount, namespace: workload.key.namespace),
                        resource: TapPod.resource(of: workload)))
            } else {
                skipped.append("pod \(workload.key.namespace)/\(workload.key.name): its Workload declares no spec.tapPort")
            }
        }
        guard !pods.isEmpty else {
            let disabled = meshed.allSatisfy(\.tapDisabled)
            throw TapError(
                .notTappable,
                disabled
                    ? "tap is disabled on every meshed pod of \(what) (annotation \(WorkloadSpec.disableTapAnnotation): \"true\")"
                    : "no meshed pod of \(what) can be tapped: " + skipped.joined(separator: "; "))
        }
        return (pods, skipped)
    }

    /// `-l`: `key=value` pairs, comma separated (`==` too), every one required.
    public static func labelSelector(_ text: String) throws(TapError) -> [String: String] {
        var selector: [String: String] = [:]
        for term in text.split(separator: ",") {
            let pair = term.replacingOccurrences(of: "==", with: "=").split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            guard pair.count == 2, !key.isEmpty, !key.contains("!") else {
                throw TapError(.invalidRequest, "label selector term \"\(term)\" is not key=value")
            }
            selector[key] = pair[1].trimmingCharacters(in: .whitespaces)
        }
        return selector
    }

    /// What `--to` adds to the match: the destination's labels as discovery gives them to proxies; `nil` for no `--to`.
    public static func destinationMatch(_ to: Resource) throws(TapError) -> Match? {
        guard !to.type.isEmpty else { return nil }
        let kind = try Self.kind(to, allowed: TapResourceKind.destinations, role: "a --to destination")
        let namespace = kind == .namespace ? to.name : to.namespace
        guard !namespace.isEmpty else { throw TapError(.invalidRequest, "--to has no namespace") }
        var labels = [Self.label("namespace", namespace)]
        if kind != .namespace, !to.name.isEmpty { labels.append(Self.label(kind.rawValue, to.name)) }
        return Self.all(labels)
    }

    /// Every one of `matches` (none: `nil`, a tap of everything).
    public static func all(_ matches: [Match]) -> Match? {
        switch matches.count {
        case 0: return nil
        case 1: return matches[0]
        default:
            var match = Match()
            match.all = Match.Seq.with { $0.matches = matches }
            return match
        }
    }

    static func label(_ key: String, _ value: String) -> Match {
        var match = Match()
        match.destinationLabel = Match.Label.with {
            $0.key = key
            $0.value = value
        }
        return match
    }

    static func kind(_ resource: Resource, allowed: [TapResourceKind], role: String) throws(TapError) -> TapResourceKind {
        guard let kind = TapResourceKind(parsing: resource.type) else {
            throw TapError(
                .invalidRequest,
                "\"\(resource.type)\" is not a resource kind tap knows; use one of "
                    + allowed.map(\.rawValue).joined(separator: ", "))
        }
        guard allowed.contains(kind) else {
            throw TapError(
                .invalidRequest, "a \(kind.rawValue) cannot be \(role); use one of " + allowed.map(\.rawValue).joined(separator: ", "))
        }
        return kind
    }

    /// Whether `workload` belongs to the resource (`name` empty: any of the kind).
    static func selects(_ kind: TapResourceKind, name: String, _ workload: WorkloadSpec) -> Bool {
        switch kind {
        case .namespace: return true
        case .pod: return name.isEmpty || workload.key.name == name
        case .service: return false
        case .replicaset:
            // A Deployment's pod: discovery names its owner after the Deployment, and the ReplicaSet is that name and
            // the pod template's hash.
            guard let owner = workload.owner else { return false }
            if owner.kind == "ReplicaSet" { return name.isEmpty || owner.name == name }
            guard owner.kind == "Deployment", let hash = workload.labels["pod-template-hash"] else { return false }
            return name.isEmpty || "\(owner.name)-\(hash)" == name
        case .cronjob:
            // A CronJob's pods belong to its Jobs, named after it and the minute they were scheduled for.
            guard let owner = workload.owner else { return false }
            if owner.kind == "CronJob" { return name.isEmpty || owner.name == name }
            guard owner.kind == "Job", let dash = owner.name.lastIndex(of: "-") else { return false }
            let suffix = owner.name[owner.name.index(after: dash)...]
            return !suffix.isEmpty && suffix.allSatisfy(\.isNumber) && (name.isEmpty || owner.name[..<dash] == name)
        case .deployment, .statefulset, .daemonset, .job:
            guard let owner = workload.owner, owner.kind == kind.ownerKind else { return false }
            return name.isEmpty || owner.name == name
        }
    }

    static func describe(_ kind: TapResourceKind, _ name: String, namespace: String) -> String {
        if kind == .namespace { return "namespace \(namespace)" }
        return name.isEmpty ? "\(kind.plural) in namespace \(namespace)" : "\(kind.rawValue)/\(name) in namespace \(namespace)"
    }

    static func count(_ count: Int, _ noun: String) -> String { count == 1 ? "1 \(noun)" : "\(count) \(noun)s" }
}
