import Kubernetes
import Yams

/// `swiftlet inject` and `uninject` over a stream of documents: each workload's pod template is edited (Pods,
/// Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, and those inside `List`s); every other
/// document is left exactly as it was. Each workload gets one line saying what was done, like `linkerd inject`.
public enum WorkloadInjection {
    /// Where a kind keeps its pod template, or nil for kinds without one.
    static func templatePath(kind: String) -> [String]? {
        switch kind {
        case "Pod": []
        case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job": ["spec", "template"]
        case "CronJob": ["spec", "jobTemplate", "spec", "template"]
        default: nil
        }
    }

    /// Injects every workload of `stream` that does not opt out; returns one line per workload.
    public static func inject(_ stream: inout DocumentStream, with injector: ProxyInjector) -> [String] {
        var report: [String] = []
        for index in stream.documents.indices {
            Self.edit(&stream.documents[index], report: &report) { template, kind, name, namespace in
                let label = "\(kind.lowercased()) \"\(name)\""
                let decision = injector.decide(template: template, namespace: namespace, namespaceMetadata: .init(), requireOptIn: false)
                let warnings = decision.warnings.map { " (warning: \($0))" }.joined()
                if let reason = decision.skip { return "\(label) skipped: \(reason)\(warnings)" }
                // A bare Pod is its own workload; a template's pods are owned by the workload.
                let owner = kind == "Pod" ? nil : (kind: kind, name: name)
                do {
                    try injector.injection(template: template, owner: owner, namespace: namespace).apply(to: &template)
                } catch {
                    return "\(label) skipped: \(error)\(warnings)"
                }
                return "\(label) injected\(warnings)"
            }
        }
        return report
    }

    /// Removes the proxy from every workload of `stream`; returns one line per workload.
    public static func uninject(_ stream: inout DocumentStream) -> [String] {
        var report: [String] = []
        for index in stream.documents.indices {
            Self.edit(&stream.documents[index], report: &report) { template, kind, name, _ in
                ProxyInjector.uninject(&template) ? "\(kind.lowercased()) \"\(name)\" uninjected" : "\(kind.lowercased()) \"\(name)\" had no proxy"
            }
        }
        return report
    }

    /// Calls `body` with the pod template of `document` (or of each item of a `List`), writing back what it changed.
    static func edit(
        _ document: inout Node, report: inout [String], _ body: (inout Node, _ kind: String, _ name: String, _ namespace: String?) -> String
    ) {
        guard let kind = document["kind"]?.string else { return }
        if kind.hasSuffix("List"), var items = document["items"]?.sequence {
            for index in items.indices { Self.edit(&items[index], report: &report, body) }
            document["items"] = .sequence(items)
            return
        }
        guard let path = Self.templatePath(kind: kind) else { return }
        let name = document["metadata"]?["name"]?.string ?? document["metadata"]?["generateName"]?.string ?? ""
        let namespace = document["metadata"]?["namespace"]?.string
        guard var template = Self.node(document, at: path[...]), template.mapping != nil else {
            report.append("\(kind.lowercased()) \"\(name)\" skipped: it has no pod template at \(path.joined(separator: "."))")
            return
        }
        report.append(body(&template, kind, name, namespace))
        Self.set(&document, at: path[...], to: template)
    }

    static func node(_ node: Node, at path: ArraySlice<String>) -> Node? {
        guard let key = path.first else { return node }
        return node[key].flatMap { Self.node($0, at: path.dropFirst()) }
    }

    static func set(_ node: inout Node, at path: ArraySlice<String>, to value: Node) {
        guard let key = path.first else {
            node = value
            return
        }
        guard var child = node[key] else { return }
        Self.set(&child, at: path.dropFirst(), to: value)
        node[key] = child
    }
}
