import Yams

/// Edits a YAML (or JSON) document as text instead of writing it anew, so that what the edit does not touch stays
/// as its author wrote it: comments, flow or block style, quoting, key order, blank lines. Each edit is an insertion
/// placed by the marks of the parsed document (libyaml's line and column of each node's start); the document is
/// parsed again after each one, so the next is placed in the edited text.
///
/// Block collections are extended with lines at their own indentation; flow collections (`{…}`, `[…]`, all of
/// JSON) with flow text before their closing bracket or after their opening one. What it cannot place (a value of
/// another type where a collection is expected, a key that is there already) is an error: the caller then writes
/// the document anew, losing its comments but never its meaning.
public struct YAMLTextEditor {
    public enum PathComponent: Hashable, Sendable, CustomStringConvertible {
        case key(String)
        case index(Int)

        public var description: String {
            switch self {
            case .key(let key): key
            case .index(let index): "[\(index)]"
            }
        }
    }

    public struct EditError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public private(set) var text: String

    public init(text: String) {
        self.text = text
    }

    /// The document as it now reads.
    public func node() throws -> Node? {
        try Yams.compose(yaml: self.text)
    }

    /// Adds entries to the mapping at `path`, creating it (and the mappings above it) when missing.
    public mutating func addEntries(_ entries: [(key: String, value: Node)], toMappingAt path: [PathComponent]) throws {
        guard !entries.isEmpty else { return }
        let root = try self.root()
        guard let found = Self.node(root, at: path[...]) else {
            guard case .key(let key)? = path.last else { throw EditError("no collection at \(path)") }
            return try self.addEntries(
                [(key, Node.mapping(.init(entries.map { (Node($0.key), $0.value) })))], toMappingAt: Array(path.dropLast()))
        }
        guard case .mapping(let mapping) = found, let mark = mapping.mark else { throw EditError("\(path) is not a mapping") }
        for entry in entries where mapping[entry.key] != nil { throw EditError("\(path) already has \(entry.key)") }
        if self.character(at: mark) == "{" {
            let close = try self.closing(from: mark)
            let body = entries.map { "\(DocumentStream.quoted($0.key)): \(Self.flow($0.value))" }.joined(separator: ", ")
            self.insert(mapping.isEmpty ? body : ", " + body, at: close)
            return
        }
        let indent = mark.column - 1
        let rendered = try entries.map { entry in try Self.block(Node.mapping(.init([(Node(entry.key), entry.value)])), indent: indent) }
            .joined()
        self.insertLines(rendered, after: self.lastLine(ofBlockAt: mark, sequence: false))
    }

    /// Puts `items` first (or last) in the sequence at `path`, creating it when missing (under a mapping).
    public mutating func insertItems(_ items: [Node], intoSequenceAt path: [PathComponent], atStart: Bool) throws {
        guard !items.isEmpty else { return }
        let root = try self.root()
        guard let found = Self.node(root, at: path[...]) else {
            guard case .key(let key)? = path.last else { throw EditError("no collection at \(path)") }
            return try self.addEntries([(key, Node.sequence(.init(items)))], toMappingAt: Array(path.dropLast()))
        }
        guard case .sequence(let sequence) = found, let mark = sequence.mark else { throw EditError("\(path) is not a sequence") }
        if self.character(at: mark) == "[" {
            let body = items.map(Self.flow).joined(separator: ", ")
            if atStart {
                self.insert(sequence.isEmpty ? body : body + ", ", at: self.offset(of: mark) + 1)
            } else {
                self.insert(sequence.isEmpty ? body : ", " + body, at: try self.closing(from: mark))
            }
            return
        }
        guard self.character(at: mark) == "-" else { throw EditError("\(path) is a sequence in a form that cannot be extended") }
        let rendered = try Self.block(Node.sequence(.init(items)), indent: mark.column - 1)
        if atStart {
            // The first item's line starts with its dash: the new items go before it.
            let line = self.lines[mark.line - 1]
            guard line.prefix(mark.column - 1).allSatisfy({ $0 == " " }) else {
                throw EditError("\(path)'s first item does not start its line")
            }
            self.insertLines(rendered, after: mark.line - 1)
        } else {
            self.insertLines(rendered, after: self.lastLine(ofBlockAt: mark, sequence: true))
        }
    }

    /// Removes the entries `keys` of the mapping at `path` (the whole key, value and all, for each).
    public mutating func removeEntries(_ keys: [String], fromMappingAt path: [PathComponent]) throws {
        for key in keys {
            let root = try self.root()
            guard case .mapping(let mapping)? = Self.node(root, at: path[...]), let mark = mapping.mark else {
                throw EditError("\(path) is not a mapping")
            }
            guard let pair = mapping.first(where: { $0.key.string == key }), let keyMark = pair.key.mark else { continue }
            if self.character(at: mark) == "{" {
                try self.removeFlowElement(startingAt: keyMark, in: mark)
            } else {
                try self.removeBlockElement(line: keyMark.line, column: keyMark.column - 1, sequence: false)
            }
        }
    }

    /// Removes the items at `indices` of the sequence at `path`.
    public mutating func removeItems(at indices: [Int], fromSequenceAt path: [PathComponent]) throws {
        for index in indices.sorted(by: >) {
            let root = try self.root()
            guard case .sequence(let sequence)? = Self.node(root, at: path[...]), let mark = sequence.mark else {
                throw EditError("\(path) is not a sequence")
            }
            guard sequence.indices.contains(index), let itemMark = sequence[index].mark else {
                throw EditError("\(path) has no item \(index)")
            }
            if self.character(at: mark) == "[" {
                try self.removeFlowElement(startingAt: itemMark, in: mark)
            } else {
                // A block item starts at its dash, at the sequence's column, on the item's first line.
                let line = self.lines[itemMark.line - 1]
                let dash = mark.column - 1
                guard line.count > dash, line.prefix(dash).allSatisfy({ $0 == " " }), line.dropFirst(dash).first == "-" else {
                    throw EditError("\(path)[\(index)] does not start its line")
                }
                try self.removeBlockElement(line: itemMark.line, column: dash, sequence: true)
            }
        }
    }

    /// Removes the lines of a block element (a mapping's entry from its key, a sequence's item from its dash): its
    /// first line, which it must begin, and those of its value.
    private mutating func removeBlockElement(line start: Int, column: Int, sequence: Bool) throws {
        var lines = self.lines
        let first = lines[start - 1]
        guard first.prefix(column).allSatisfy({ $0 == " " }) else { throw EditError("an element at line \(start) does not start its line") }
        // Deeper lines are the element's; for an entry, an indentless sequence at its column is its value.
        let last = self.lastLine(from: start) { indent, trimmed in
            indent > column || (!sequence && indent == column && (trimmed == "-" || trimmed.hasPrefix("- ")))
        }
        lines.removeSubrange((start - 1)..<last)
        self.text = lines.joined(separator: "\n")
    }

    /// Removes a flow element (an entry from its key, or an item) of the collection opened at `collection`, with
    /// the comma that separated it from its neighbour.
    private mutating func removeFlowElement(startingAt mark: Mark, in collection: Mark) throws {
        let scalars = Array(self.text.unicodeScalars)
        let start = self.offset(of: mark)
        let close = try self.closing(from: collection)
        // The element ends at the first comma or closing bracket outside quotes and nested collections.
        var end = start
        var depth = 0
        var quote: Unicode.Scalar? = nil
        while end < close {
            let c = scalars[end]
            if let open = quote {
                if open == "\"" && c == "\\" {
                    end += 2
                    continue
                }
                if c == open { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                depth -= 1
            } else if c == "," && depth == 0 {
                break
            }
            end += 1
        }
        var from = start
        var to = end
        if end < close {
            // Not the last: its comma and the spaces after it go.
            to = end + 1
            while to < close && (scalars[to] == " " || scalars[to] == "\n") { to += 1 }
        } else {
            // The last: the comma before it goes, and the spaces it leaves before the bracket.
            var back = start - 1
            while back > self.offset(of: collection) && (scalars[back] == " " || scalars[back] == "\n") { back -= 1 }
            if scalars[back] == "," { from = back }
            while to > from && to - 1 >= start && (scalars[to - 1] == " " || scalars[to - 1] == "\n") { to -= 1 }
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[..<from])
        view.append(contentsOf: scalars[to...])
        self.text = String(view)
    }

    // MARK: placing

    private func root() throws -> Node {
        guard let node = try Yams.compose(yaml: self.text) else { throw EditError("an empty document") }
        return node
    }

    static func node(_ node: Node, at path: ArraySlice<PathComponent>) -> Node? {
        guard let first = path.first else { return node }
        switch first {
        case .key(let key): return node[key].flatMap { Self.node($0, at: path.dropFirst()) }
        case .index(let index):
            guard let sequence = node.sequence, sequence.indices.contains(index) else { return nil }
            return Self.node(sequence[index], at: path.dropFirst())
        }
    }

    private var lines: [Substring] { self.text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// The offset in `text` (in Unicode scalars, as libyaml counts columns) of a mark.
    private func offset(of mark: Mark) -> Int {
        var offset = 0
        for line in self.lines.prefix(mark.line - 1) { offset += line.unicodeScalars.count + 1 }
        return offset + mark.column - 1
    }

    private func character(at mark: Mark) -> Unicode.Scalar? {
        let scalars = Array(self.text.unicodeScalars)
        let offset = self.offset(of: mark)
        return offset < scalars.count ? scalars[offset] : nil
    }

    /// The offset of the bracket closing the flow collection opened at `mark`, past quoted text and nested
    /// collections.
    private func closing(from mark: Mark) throws -> Int {
        let scalars = Array(self.text.unicodeScalars)
        var depth = 0
        var index = self.offset(of: mark)
        var quote: Unicode.Scalar? = nil
        while index < scalars.count {
            let c = scalars[index]
            if let open = quote {
                if open == "\"" && c == "\\" {
                    index += 2
                    continue
                }
                if c == open {
                    // '' inside a single-quoted scalar is an escaped quote.
                    if open == "'" && index + 1 < scalars.count && scalars[index + 1] == "'" {
                        index += 2
                        continue
                    }
                    quote = nil
                }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (index == 0 || scalars[index - 1] == " " || scalars[index - 1] == "\n") {
                while index < scalars.count && scalars[index] != "\n" { index += 1 }
                continue
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                depth -= 1
                if depth == 0 { return index }
            }
            index += 1
        }
        throw EditError("an unclosed flow collection at \(mark)")
    }

    /// The last line (1-based) holding content of the block collection that starts at `mark`: the lines after it
    /// belong to it while they are indented at least to its column (for a sequence, beyond it, or at it with `-`);
    /// blank and comment lines count only when more content of it follows.
    private func lastLine(ofBlockAt mark: Mark, sequence: Bool) -> Int {
        let column = mark.column - 1
        // A mapping's own keys are at its column (and a key's indentless sequence too); a sequence's further items
        // are at its column, what is in them deeper.
        return self.lastLine(from: mark.line) { indent, trimmed in
            sequence ? indent > column || (indent == column && (trimmed == "-" || trimmed.hasPrefix("- "))) : indent >= column
        }
    }

    /// The last line (1-based) from line `start` on for which `belongs` holds (given its indentation and text),
    /// skipping blank and comment lines unless more such lines follow them; a document marker ends it.
    private func lastLine(from start: Int, belongs: (Int, Substring) -> Bool) -> Int {
        let lines = self.lines
        var last = start
        var index = start
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.drop { $0 == " " }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                index += 1
                continue
            }
            guard belongs(line.count - trimmed.count, trimmed), trimmed != "---", trimmed != "..." else { break }
            last = index + 1
            index += 1
        }
        return last
    }

    private mutating func insert(_ fragment: String, at offset: Int) {
        var scalars = Array(self.text.unicodeScalars)
        scalars.insert(contentsOf: fragment.unicodeScalars, at: offset)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        self.text = String(view)
    }

    /// Inserts whole lines (`block` ends with a newline) after line `line` (1-based; 0: before the first).
    private mutating func insertLines(_ block: String, after line: Int) {
        // With a final newline, the last element is the empty text after it, and stays last.
        var lines = self.lines
        let added = block.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        lines.insert(contentsOf: added, at: min(line, lines.count))
        self.text = lines.joined(separator: "\n")
    }

    // MARK: rendering

    /// `node` in block style, each line indented by `indent` spaces.
    static func block(_ node: Node, indent: Int) throws -> String {
        let text = try Yams.serialize(node: node, width: -1, sortKeys: false)
        let pad = String(repeating: " ", count: indent)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { pad + $0 + "\n" }.joined()
    }

    /// `node` as one line of flow text (JSON, which YAML's flow style reads).
    static func flow(_ node: Node) -> String {
        DocumentStream.json(node).split(separator: "\n").map { $0.drop { $0 == " " } }.joined()
    }
}
