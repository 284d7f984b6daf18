import Kubernetes
import Yams

extension ProxyInjector.Injection {
    /// Applies the injection to a pod template (a mapping with `metadata` and `spec`) in place: labels and
    /// annotations set, the two containers put first in `initContainers`, the volumes appended.
    public func apply(to template: inout Node) {
        var metadata = template["metadata"] ?? Node([(Node, Node)]())
        metadata["labels"] = Self.setting(self.labels, in: metadata["labels"])
        metadata["annotations"] = Self.setting(self.annotations, in: metadata["annotations"])
        template["metadata"] = metadata
        var spec = template["spec"] ?? Node([(Node, Node)]())
        var initContainers = spec["initContainers"]?.sequence ?? Node.Sequence()
        initContainers.insert(contentsOf: self.initContainers, at: 0)
        spec["initContainers"] = .sequence(initContainers)
        var volumes = spec["volumes"]?.sequence ?? Node.Sequence()
        volumes.append(contentsOf: self.volumes)
        spec["volumes"] = .sequence(volumes)
        template["spec"] = spec
    }

    /// The same edit as insertions into the text of the document holding the template at `path`, which keep the
    /// document's comments and layout (`swiftlet inject`).
    public func apply(to editor: inout YAMLTextEditor, at path: [YAMLTextEditor.PathComponent]) throws {
        func quoted(_ entries: [(key: String, value: String)]) -> [(key: String, value: Node)] {
            entries.map { ($0.key, Node($0.value, Tag(.str), .doubleQuoted)) }
        }
        try editor.addEntries(quoted(self.labels), toMappingAt: path + [.key("metadata"), .key("labels")])
        try editor.addEntries(quoted(self.annotations), toMappingAt: path + [.key("metadata"), .key("annotations")])
        try editor.insertItems(self.initContainers, intoSequenceAt: path + [.key("spec"), .key("initContainers")], atStart: true)
        try editor.insertItems(self.volumes, intoSequenceAt: path + [.key("spec"), .key("volumes")], atStart: false)
    }

    /// The same edit as a JSONPatch (RFC 6902) against `pod`, as the API server applies a webhook's answer.
    public func jsonPatch(for pod: Node) -> String {
        var operations: [String] = []
        func add(_ path: String, _ value: String) {
            operations.append("{\"op\":\"add\",\"path\":\(DocumentStream.quoted(path)),\"value\":\(value)}")
        }
        for (field, entries) in [("labels", self.labels), ("annotations", self.annotations)] {
            if pod["metadata"]?[field]?.mapping == nil {
                let object = entries.map { "\(DocumentStream.quoted($0.key)):\(DocumentStream.quoted($0.value))" }.joined(separator: ",")
                add("/metadata/\(field)", "{\(object)}")
            } else {
                for entry in entries { add("/metadata/\(field)/\(Self.pointerToken(entry.key))", DocumentStream.quoted(entry.value)) }
            }
        }
        if pod["spec"]?["initContainers"]?.sequence == nil {
            add("/spec/initContainers", "[" + self.initContainers.map(Self.compactJSON).joined(separator: ",") + "]")
        } else {
            for (index, container) in self.initContainers.enumerated() { add("/spec/initContainers/\(index)", Self.compactJSON(container)) }
        }
        if pod["spec"]?["volumes"]?.sequence == nil {
            add("/spec/volumes", "[" + self.volumes.map(Self.compactJSON).joined(separator: ",") + "]")
        } else {
            for volume in self.volumes { add("/spec/volumes/-", Self.compactJSON(volume)) }
        }
        return "[" + operations.joined(separator: ",") + "]"
    }

    static func setting(_ entries: [(key: String, value: String)], in node: Node?) -> Node {
        var mapping = node?.mapping ?? Node.Mapping([])
        for entry in entries { mapping[entry.key] = Node(entry.value, Tag(.str), .doubleQuoted) }
        return .mapping(mapping)
    }

    /// A JSON Pointer reference token (RFC 6901): `~` and `/` escaped.
    static func pointerToken(_ key: String) -> String {
        key.replacingAll("~", with: "~0").replacingAll("/", with: "~1")
    }

    static func compactJSON(_ node: Node) -> String {
        DocumentStream.json(node).split(separator: "\n").map { $0.drop { $0 == " " } }.joined()
    }
}

extension ProxyInjector {
    /// The label and annotation keys an injection adds.
    static func isInjectedKey(_ key: String) -> Bool {
        key == MeshLabels.controlPlaneNamespace || key == MeshLabels.workloadNamespace || key == MeshLabels.proxyVersion
            || key.hasPrefix("swiftlet.io/proxy-")
    }

    static let injectedItems = [
        ("initContainers", [initContainerName, proxyContainerName]), ("volumes", [tokenVolumeName, xtablesVolumeName]),
    ]
    /// Removes from a pod template everything an injection added; false when there was nothing to remove.
    /// Lists and mappings the injection created (now empty) go too, so `inject` then `uninject` gives back the input.
    public static func uninject(_ template: inout Node) -> Bool {
        var removed = false
        if case .mapping(var metadata) = template["metadata"] {
            for field in ["labels", "annotations"] {
                guard var mapping = metadata[field]?.mapping else { continue }
                let ours = mapping.keys.compactMap(\.string).filter(Self.isInjectedKey)
                guard !ours.isEmpty else { continue }
                for key in ours { mapping[key] = nil }
                removed = true
                metadata[field] = mapping.isEmpty ? nil : .mapping(mapping)
            }
            if removed && metadata.isEmpty, case .mapping(var fields) = template {
                // The injection made the template's metadata; it goes with what was in it.
                fields["metadata"] = nil
                template = .mapping(fields)
            } else {
                template["metadata"] = .mapping(metadata)
            }
        }
        if case .mapping(var fields) = template["spec"] {
            for (field, names) in Self.injectedItems {
                guard var sequence = fields[field]?.sequence else { continue }
                let before = sequence.count
                sequence.removeAll { names.contains($0["name"]?.string ?? "") }
                guard sequence.count != before else { continue }
                removed = true
                fields[field] = sequence.isEmpty ? nil : .sequence(sequence)
            }
            template["spec"] = .mapping(fields)
        }
        return removed
    }
}

extension ProxyInjector {
    /// `uninject`'s edit as deletions from the text of the document holding the template at `path` (the same
    /// removals as `uninject(_:)`, emptied collections with them), so what inject kept of the document's comments
    /// and layout survives the round trip.
    public static func uninject(_ template: Node, editor: inout YAMLTextEditor, at path: [YAMLTextEditor.PathComponent]) throws {
        var removedMetadata = false
        if let metadata = template["metadata"]?.mapping {
            for field in ["labels", "annotations"] {
                guard let mapping = metadata[field]?.mapping else { continue }
                let ours = mapping.keys.compactMap(\.string).filter(Self.isInjectedKey)
                guard !ours.isEmpty else { continue }
                removedMetadata = true
                if ours.count == mapping.count {
                    try editor.removeEntries([field], fromMappingAt: path + [.key("metadata")])
                } else {
                    try editor.removeEntries(Array(ours), fromMappingAt: path + [.key("metadata"), .key(field)])
                }
            }
            let left = metadata.keys.compactMap(\.string).filter { field in
                guard field == "labels" || field == "annotations", let mapping = metadata[field]?.mapping else { return true }
                return !mapping.keys.compactMap(\.string).allSatisfy(Self.isInjectedKey)
            }
            if removedMetadata && left.isEmpty { try editor.removeEntries(["metadata"], fromMappingAt: path) }
        }
        guard let spec = template["spec"]?.mapping else { return }
        for (field, names) in Self.injectedItems {
            guard let sequence = spec[field]?.sequence else { continue }
            let ours = sequence.indices.filter { names.contains(sequence[$0]["name"]?.string ?? "") }
            guard !ours.isEmpty else { continue }
            if ours.count == sequence.count {
                try editor.removeEntries([field], fromMappingAt: path + [.key("spec")])
            } else {
                try editor.removeItems(at: ours, fromSequenceAt: path + [.key("spec"), .key(field)])
            }
        }
    }
}
