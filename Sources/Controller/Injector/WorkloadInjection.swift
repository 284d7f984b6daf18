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
    ///
    /// Each edited document keeps its comments and layout: the injection is made again as insertions into its text
    /// (`YAMLTextEditor`), taken if that text reads as the injected document; otherwise it is written anew.
    public static func inject(_ stream: inout DocumentStream, with injector: ProxyInjector) -> [String] {
        var report: [String] = []
        for index in stream.documents.indices {
            let original = stream.text(ofDocument: index)
            var applied: [(path: [YAMLTextEditor.PathComponent], injection: ProxyInjector.Injection)] = []
            Self.edit(&stream.documents[index], at: [], report: &report) { template, path, kind, name, namespace in
                let label = "\(kind.lowercased()) \"\(name)\""
                let decision = injector.decide(template: template, namespace: namespace, namespaceMetadata: .init(), requireOptIn: false)
                let warnings = decision.warnings.map { " (warning: \($0))" }.joined()
                if let reason = decision.skip { return "\(label) skipped: \(reason)\(warnings)" }
                // A bare Pod is its own workload; a template's pods are owned by the workload.
                let owner = kind == "Pod" ? nil : (kind: kind, name: name)
                do {
                    let injection = try injector.injection(template: template, owner: owner, namespace: namespace)
                    injection.apply(to: &template)
                    applied.append((path, injection))
                } catch {
                    return "\(label) skipped: \(error)\(warnings)"
                }
                return "\(label) injected\(warnings)"
            }
            guard let original, !applied.isEmpty else { continue }
            var editor = YAMLTextEditor(text: original)
            do {
                for (path, injection) in applied { try injection.apply(to: &editor, at: path) }
                stream.keep(text: editor.text, forDocument: index)
            } catch {
                continue  // written anew
            }
        }
        return report
    }

    /// Removes the proxy from every workload of `stream`; returns one line per workload. Documents keep their
    /// comments and layout as `inject` does.
    public static func uninject(_ stream: inout DocumentStream) -> [String] {
        var report: [String] = []
        for index in stream.documents.indices {
            let original = stream.text(ofDocument: index)
            var edits: [(template: Node, path: [YAMLTextEditor.PathComponent])] = []
            Self.edit(&stream.documents[index], at: [], report: &report) { template, path, kind, name, _ in
                let before = template
                guard ProxyInjector.uninject(&template) else { return "\(kind.lowercased()) \"\(name)\" had no proxy" }
                edits.append((before, path))
                return "\(kind.lowercased()) \"\(name)\" uninjected"
            }
            guard let original, !edits.isEmpty else { continue }
            var editor = YAMLTextEditor(text: original)
            do {
                for edit in edits { try ProxyInjector.uninject(edit.template, editor: &editor, at: edit.path) }
                stream.keep(text: editor.text, forDocument: index)
            } catch {
                continue  // written anew
            }
        }
        return report
    }

    /// Calls `body` with the pod template of `document` (or of each item of a `List`) and the template's path in
    /// the document, writing back what it changed.
    static func edit(
        _ document: inout Node, at path: [YAMLTextEditor.PathComponent], report: inout [String],
        _ body: (inout Node, _ path: [YAMLTextEditor.PathComponent], _ kind: String, _ name: String, _ namespace: String?) -> String
    ) {
        guard let kind = document["kind"]?.string else { return }
        if kind.hasSuffix("List"), var items = document["items"]?.sequence {
            for index in items.indices { Self.edit(&items[index], at: path + [.key("items"), .index(index)], report: &report, body) }
            document["items"] = .sequence(items)
            return
        }
        guard let templatePath = Self.templatePath(kind: kind) else { return }
        let name = document["metadata"]?["name"]?.string ?? document["metadata"]?["generateName"]?.string ?? ""
        let namespace = document["metadata"]?["namespace"]?.string
        guard var template = Self.node(document, at: templatePath[...]), template.mapping != nil else {
            report.append("\(kind.lowercased()) \"\(name)\" skipped: it has no pod template at \(templatePath.joined(separator: "."))")
            return
        }
        report.append(body(&template, path + templatePath.map { .key($0) }, kind, name, namespace))
        Self.set(&document, at: templatePath[...], to: template)
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
