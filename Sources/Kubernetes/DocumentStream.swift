import Yams

/// A stream of Kubernetes documents (`---`-separated YAML, or JSON, which is YAML) kept as Yams nodes: mappings
/// keep their keys' order and scalars their style, so what a command rewrites reads like what it was given, and
/// what it leaves alone comes out as it went in.
public struct DocumentStream {
    public var documents: [Node]

    public init(_ documents: [Node]) {
        self.documents = documents
    }

    /// Parses every document of `text`; empty documents (a stray `---`) are dropped.
    public init(parsing text: String) throws(KubernetesError) {
        do {
            self.documents = try Array(Yams.compose_all(yaml: text)).filter { node in
                if case .scalar(let scalar) = node, scalar.string.isEmpty, node.tag.rawValue == Tag.Name.null.rawValue { return false }
                return true
            }
        } catch {
            throw KubernetesError(.decoding, "\(error)")
        }
    }

    /// The documents as YAML, each after a `---` line.
    public func yaml() throws(KubernetesError) -> String {
        var text = ""
        for document in self.documents {
            do {
                text += "---\n" + (try Yams.serialize(node: document, width: -1, sortKeys: false))
            } catch {
                throw KubernetesError(.decoding, "cannot write YAML: \(error)")
            }
        }
        return text
    }

    /// The documents as indented JSON, each after a `---` line (the stream is still YAML, which `kubectl apply -f -`
    /// reads; each document is also JSON on its own).
    public func json() -> String {
        var text = ""
        for document in self.documents {
            text += "---\n"
            Self.writeJSON(document, indent: 0, to: &text)
            text += "\n"
        }
        return text
    }

    /// One node as JSON: scalars by the tag the YAML resolver gave them (a quoted `"8080"` stays a string).
    public static func json(_ node: Node) -> String {
        var text = ""
        Self.writeJSON(node, indent: 0, to: &text)
        return text
    }

    static func writeJSON(_ node: Node, indent: Int, to text: inout String) {
        let inner = String(repeating: " ", count: indent + 2)
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: text += "null"
            case .bool: text += node.bool.map { $0 ? "true" : "false" } ?? Self.quoted(scalar.string)
            case .int: text += node.int.map { String($0) } ?? Self.quoted(scalar.string)
            case .float:
                if let value = node.float, value.isFinite { text += "\(value)" } else { text += Self.quoted(scalar.string) }
            default: text += Self.quoted(scalar.string)
            }
        case .mapping(let mapping):
            guard !mapping.isEmpty else {
                text += "{}"
                return
            }
            text += "{\n"
            for (index, pair) in mapping.enumerated() {
                text += inner + Self.quoted(pair.key.string ?? "") + ": "
                Self.writeJSON(pair.value, indent: indent + 2, to: &text)
                text += index == mapping.count - 1 ? "\n" : ",\n"
            }
            text += String(repeating: " ", count: indent) + "}"
        case .sequence(let sequence):
            guard !sequence.isEmpty else {
                text += "[]"
                return
            }
            text += "[\n"
            for (index, element) in sequence.enumerated() {
                text += inner
                Self.writeJSON(element, indent: indent + 2, to: &text)
                text += index == sequence.count - 1 ? "\n" : ",\n"
            }
            text += String(repeating: " ", count: indent) + "]"
        case .alias:
            text += "null"
        }
    }

    /// A JSON string literal (RFC 8259 escapes).
    public static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }
}
