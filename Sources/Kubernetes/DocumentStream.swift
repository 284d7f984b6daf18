import Yams

/// A stream of Kubernetes documents (`---`-separated YAML, or JSON, which is YAML) kept as Yams nodes: mappings
/// keep their keys' order and scalars their style, so what a command rewrites reads like what it was given, and
/// what it leaves alone comes out as it went in.
public struct DocumentStream {
    public var documents: [Node]
    /// Each document as parsed, with its text: a document still equal to it is written back as that text, so a
    /// command that edits some documents of a stream leaves the others exactly as they were, comments included.
    var originals: [(node: Node, text: String)?]

    public init(_ documents: [Node]) {
        self.documents = documents
        self.originals = documents.map { _ in nil }
    }

    /// Parses every document of `text`; empty documents (a stray `---`, comments only) are dropped.
    public init(parsing text: String) throws(KubernetesError) {
        self.documents = []
        self.originals = []
        var line = 1
        for chunk in Self.split(text) {
            let node: Node?
            do {
                node = try Yams.compose(yaml: chunk.body)
            } catch {
                throw KubernetesError(.decoding, "document at line \(line + chunk.offset): \(error)")
            }
            line += chunk.lines
            guard let node else { continue }
            if case .scalar(let scalar) = node, scalar.string.isEmpty { continue }
            self.documents.append(node)
            self.originals.append((node, chunk.body))
        }
    }

    /// The documents of a stream, cut at `---` lines (and ended by `...` lines), each with the number of lines it
    /// spans and where its body starts, for errors that name a line of the whole input.
    static func split(_ text: String) -> [(body: String, lines: Int, offset: Int)] {
        var chunks: [(body: String, lines: Int, offset: Int)] = []
        var body: [Substring] = []
        var lines = 0
        var offset = 0
        var ended = false
        func flush() {
            chunks.append((body.map { $0 + "\n" }.joined(), lines, offset))
            (body, lines, offset, ended) = ([], 0, 0, false)
        }
        // A final line break ends the last line; it does not start another.
        for line in (text.hasSuffix("\n") ? text.dropLast() : text[...]).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line == "---" || line.hasPrefix("--- ") || line.hasPrefix("---\t") {
                flush()
                lines = 1
                offset = 1
                let rest = line.dropFirst(3).drop { $0 == " " || $0 == "\t" }
                if !rest.isEmpty { body.append(rest) }
                continue
            }
            lines += 1
            if line == "..." || line.hasPrefix("... ") {
                ended = true
                continue
            }
            if !ended { body.append(line) }
        }
        flush()
        return chunks
    }

    /// The text a document is written as: its text as read (or as a text edit left it) while the document is
    /// still what that text says; nil once it was changed otherwise (it is then written anew).
    public func text(ofDocument index: Int) -> String? {
        guard index < self.originals.count, let original = self.originals[index], original.node == self.documents[index] else { return nil }
        return original.text
    }

    /// Records `text` as how document `index` reads now (a text edit that keeps its comments and layout): it is
    /// taken only if it parses to the document as it is now, so the edit can change how it reads, never what it says.
    @discardableResult
    public mutating func keep(text: String, forDocument index: Int) -> Bool {
        guard index < self.documents.count, let parsed = try? Yams.compose(yaml: text), parsed == self.documents[index] else {
            return false
        }
        while self.originals.count <= index { self.originals.append(nil) }
        self.originals[index] = (self.documents[index], text)
        return true
    }

    /// The documents as YAML, each after a `---` line.
    public func yaml() throws(KubernetesError) -> String {
        var text = ""
        for (index, document) in self.documents.enumerated() {
            if index < self.originals.count, let original = self.originals[index], original.node == document {
                text += "---\n" + original.text
                continue
            }
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
        for (index, document) in self.documents.enumerated() {
            text += "---\n"
            // A document read as JSON is written as it was read (or as a text edit left it); YAML is converted.
            if let original = self.text(ofDocument: index), original.drop(while: \.isWhitespace).first == "{" {
                text += original.hasSuffix("\n") ? original : original + "\n"
                continue
            }
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
