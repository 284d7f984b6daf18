import NIOCore
import NIOHPACK

/// A message's header (or trailer) fields, kept in the form they arrived in so that forwarding them costs no
/// conversion when both sides speak the same protocol.
///
/// - `wire`: HTTP/1 fields as spans of the bytes they were parsed from (no `String` per field; a field added by the
///   proxy is appended to the same bytes). Written to another HTTP/1 connection as the bytes themselves.
/// - `hpack`: HTTP/2 fields as NIOHPACK decoded them (pseudo-fields included; `:`-names are never returned by the
///   accessors here). Handed to another HTTP/2 connection as they are.
///
/// Converting happens only where one side is HTTP/1 and the other HTTP/2. Names compare ASCII case-insensitively.
public struct HTTPFields: Sendable {
    enum Storage: Sendable {
        case wire(WireFields)
        case hpack(HPACKHeaders)
    }

    var storage: Storage

    public init() {
        self.storage = .wire(WireFields())
    }

    public init(_ headers: HPACKHeaders) {
        self.storage = .hpack(headers)
    }

    init(wire: WireFields) {
        self.storage = .wire(wire)
    }

    public init(_ fields: [(String, String)]) {
        var wire = WireFields()
        for (name, value) in fields { wire.append(name: name, value: value) }
        self.storage = .wire(wire)
    }

    /// The regular fields (pseudo-fields left out), in order.
    public var count: Int {
        switch self.storage {
        case .wire(let wire): wire.ranges.count
        case .hpack(let headers): headers.reduce(0) { $0 + ($1.name.utf8.first == UInt8(ascii: ":") ? 0 : 1) }
        }
    }

    public var isEmpty: Bool { self.count == 0 }

    /// Every regular field, in order, as text.
    public func forEach(_ body: (_ name: String, _ value: String) throws -> Void) rethrows {
        switch self.storage {
        case .wire(let wire):
            for range in wire.ranges { try body(wire.name(range), wire.value(range)) }
        case .hpack(let headers):
            for field in headers where field.name.utf8.first != UInt8(ascii: ":") { try body(field.name, field.value) }
        }
    }

    public var asPairs: [(String, String)] {
        var pairs: [(String, String)] = []
        self.forEach { pairs.append(($0, $1)) }
        return pairs
    }

    public func contains(_ name: String) -> Bool {
        switch self.storage {
        case .wire(let wire): wire.firstIndex(of: name) != nil
        case .hpack(let headers): headers.contains { HTTPFields.equalNames($0.name, name) }
        }
    }

    /// The first value of `name`.
    public func first(_ name: String) -> String? {
        switch self.storage {
        case .wire(let wire): return wire.firstIndex(of: name).map { wire.value(wire.ranges[$0]) }
        case .hpack(let headers):
            for field in headers where HTTPFields.equalNames(field.name, name) { return field.value }
            return nil
        }
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        var values: [String] = []
        switch self.storage {
        case .wire(let wire):
            for range in wire.ranges where wire.nameEquals(range, name) { values.append(wire.value(range)) }
        case .hpack(let headers):
            for field in headers where HTTPFields.equalNames(field.name, name) { values.append(field.value) }
        }
        return values
    }

    /// Whether any value of `name`, read as a comma-separated list, holds `token` (case-insensitively).
    public func containsToken(_ token: String, in name: String) -> Bool {
        switch self.storage {
        case .wire(let wire):
            for range in wire.ranges where wire.nameEquals(range, name) {
                if wire.valueContainsToken(range, token) { return true }
            }
            return false
        case .hpack:
            return self.values(name).contains { value in
                value.utf8.split(separator: UInt8(ascii: ",")).contains { HTTPFields.equalNames(HTTPFields.trimmed($0), token.utf8) }
            }
        }
    }

    public mutating func remove(_ name: String) {
        switch self.storage {
        case .wire(var wire):
            guard wire.firstIndex(of: name) != nil else { return }
            self.storage = .wire(WireFields())
            let bytes = wire.bytes
            wire.ranges.removeAll { WireFields.nameEquals(bytes, $0, name) }
            self.storage = .wire(wire)
        case .hpack(var headers):
            guard headers.contains(where: { HTTPFields.equalNames($0.name, name) }) else { return }
            self.storage = .wire(WireFields())
            headers.remove(name: name.lowercased())
            self.storage = .hpack(headers)
        }
    }

    /// Removes every field for which `predicate` holds (given the name's bytes).
    public mutating func removeAll(where predicate: (UnsafeRawBufferPointer) -> Bool) {
        switch self.storage {
        case .wire(var wire):
            self.storage = .wire(WireFields())
            let bytes = wire.bytes
            wire.ranges.removeAll { range in WireFields.withName(bytes, range, predicate) }
            self.storage = .wire(wire)
        case .hpack(let headers):
            var kept = HPACKHeaders()
            kept.reserveCapacity(headers.count)
            var changed = false
            for field in headers {
                var name = field.name
                let remove = field.name.utf8.first != UInt8(ascii: ":") && name.withUTF8 { predicate(UnsafeRawBufferPointer($0)) }
                if remove { changed = true } else { kept.add(name: field.name, value: field.value, indexing: field.indexable) }
            }
            if changed { self.storage = .hpack(kept) }
        }
    }

    public mutating func add(_ name: String, _ value: String) {
        switch self.storage {
        case .wire(var wire):
            self.storage = .wire(WireFields())
            wire.append(name: name, value: value)
            self.storage = .wire(wire)
        case .hpack(var headers):
            self.storage = .wire(WireFields())
            // HTTP/2 field names are lower case (RFC 9113 §8.2.1).
            headers.add(name: name.lowercased(), value: value)
            self.storage = .hpack(headers)
        }
    }

    public mutating func replaceOrAdd(_ name: String, _ value: String) {
        self.remove(name)
        self.add(name, value)
    }

    /// The fields for an HTTP/2 frame: as they are when they came from HTTP/2, converted (names lower-cased, the
    /// connection-specific ones already gone) when they came from HTTP/1. `pseudo` is put first.
    public func hpack(pseudo: [(String, String)], droppingHost: Bool = false) -> HPACKHeaders {
        switch self.storage {
        case .hpack(let headers):
            // Replace the pseudo-fields (an exchange may have changed the authority or path), keep the rest.
            var result = HPACKHeaders()
            result.reserveCapacity(headers.count + pseudo.count)
            for (name, value) in pseudo { result.add(name: name, value: value) }
            for field in headers where field.name.utf8.first != UInt8(ascii: ":") {
                result.add(name: field.name, value: field.value, indexing: field.indexable)
            }
            return result
        case .wire(let wire):
            var result = HPACKHeaders()
            result.reserveCapacity(wire.ranges.count + pseudo.count)
            for (name, value) in pseudo { result.add(name: name, value: value) }
            for range in wire.ranges where !(droppingHost && wire.nameEquals(range, "host")) {
                result.add(name: wire.lowercasedName(range), value: wire.value(range))
            }
            return result
        }
    }

    /// The HPACK fields as they are, pseudo-fields included, when they came from HTTP/2 and nothing replaced them.
    public var hpackHeaders: HPACKHeaders? {
        if case .hpack(let headers) = self.storage { return headers }
        return nil
    }

    /// Writes the regular fields as HTTP/1 lines (`name: value\r\n` each).
    public func writeHTTP1(into buffer: inout ByteBuffer) {
        switch self.storage {
        case .wire(let wire):
            wire.write(into: &buffer)
        case .hpack(let headers):
            // HPACK strings may hold any byte; a CR or LF written into an HTTP/1 head would split it. Such a field
            // is dropped.
            for field in headers where field.name.utf8.first != UInt8(ascii: ":") && Self.isSafeForHTTP1(field.name, field.value) {
                buffer.writeString(field.name)
                buffer.writeStaticString(": ")
                buffer.writeString(field.value)
                buffer.writeStaticString("\r\n")
            }
        }
    }

    static func isSafeForHTTP1(_ name: String, _ value: String) -> Bool {
        !name.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: ":") || $0 == 0x7f }
            && !value.utf8.contains { $0 == 0x0d || $0 == 0x0a || $0 == 0 }
    }

    static func equalNames(_ a: String, _ b: String) -> Bool {
        HTTPFields.equalNames(a.utf8, b.utf8)
    }

    static func equalNames<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var i = a.startIndex
        var j = b.startIndex
        while i != a.endIndex {
            let x = a[i]
            let y = b[j]
            if x != y {
                guard x | 0x20 == y | 0x20, (x | 0x20) >= 0x61, (x | 0x20) <= 0x7a else { return false }
            }
            a.formIndex(after: &i)
            b.formIndex(after: &j)
        }
        return true
    }

    static func trimmed<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let start = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
        let end = bytes.lastIndex(where: { !isSpace($0) })!
        return bytes[start...end]
    }
}

extension HTTPFields: Equatable {
    /// Same fields in the same order, compared as text (names case-insensitively); for tests.
    public static func == (lhs: HTTPFields, rhs: HTTPFields) -> Bool {
        let a = lhs.asPairs
        let b = rhs.asPairs
        return a.count == b.count && zip(a, b).allSatisfy { HTTPFields.equalNames($0.0, $1.0) && $0.1 == $1.1 }
    }
}

extension HTTPFields: CustomStringConvertible {
    public var description: String { self.asPairs.map { "\($0): \($1)" }.joined(separator: ", ") }
}

/// HTTP/1 fields as spans of one buffer: the head as received, with fields the proxy adds appended after it.
struct WireFields: Sendable {
    /// Offsets are from `bytes.readerIndex`.
    struct Range: Sendable {
        var nameStart: UInt32
        var nameLength: UInt32
        var valueStart: UInt32
        var valueLength: UInt32
    }

    var bytes: ByteBuffer
    var ranges: [Range]

    init() {
        self.bytes = ByteBuffer()
        self.ranges = []
    }

    init(bytes: ByteBuffer, ranges: [Range]) {
        self.bytes = bytes
        self.ranges = ranges
    }

    func name(_ range: Range) -> String {
        self.bytes.getString(at: self.bytes.readerIndex + Int(range.nameStart), length: Int(range.nameLength)) ?? ""
    }

    func lowercasedName(_ range: Range) -> String {
        self.bytes.withUnsafeReadableBytes { raw in
            let name = UnsafeRawBufferPointer(rebasing: raw[Int(range.nameStart)..<Int(range.nameStart + range.nameLength)])
            if !name.contains(where: { $0 >= 0x41 && $0 <= 0x5a }) { return String(decoding: name, as: UTF8.self) }
            return String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
    }

    func value(_ range: Range) -> String {
        self.bytes.withUnsafeReadableBytes { raw in
            String(
                decoding: UnsafeRawBufferPointer(rebasing: raw[Int(range.valueStart)..<Int(range.valueStart + range.valueLength)]),
                as: UTF8.self)
        }
    }

    func withName<Result>(_ range: Range, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        Self.withName(self.bytes, range, body)
    }

    static func withName<Result>(_ bytes: ByteBuffer, _ range: Range, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        bytes.withUnsafeReadableBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[Int(range.nameStart)..<Int(range.nameStart + range.nameLength)]))
        }
    }

    func nameEquals(_ range: Range, _ name: String) -> Bool {
        Self.nameEquals(self.bytes, range, name)
    }

    static func nameEquals(_ bytes: ByteBuffer, _ range: Range, _ name: String) -> Bool {
        guard Int(range.nameLength) == name.utf8.count else { return false }
        return Self.withName(bytes, range) { raw in
            name.utf8.withContiguousStorageIfAvailable { HTTPBytes.equal(raw, UnsafeRawBufferPointer($0)) }
                ?? HTTPFields.equalNames(raw, name.utf8)
        }
    }

    func firstIndex(of name: String) -> Int? {
        self.ranges.firstIndex { self.nameEquals($0, name) }
    }

    func valueContainsToken(_ range: Range, _ token: String) -> Bool {
        self.bytes.withUnsafeReadableBytes { raw in
            let value = UnsafeRawBufferPointer(rebasing: raw[Int(range.valueStart)..<Int(range.valueStart + range.valueLength)])
            return value.split(separator: UInt8(ascii: ",")).contains { HTTPFields.equalNames(HTTPFields.trimmed($0), token.utf8) }
        }
    }

    mutating func append(name: String, value: String) {
        let base = self.bytes.readerIndex
        let nameStart = self.bytes.writerIndex - base
        let nameLength = self.bytes.writeString(name)
        self.bytes.writeStaticString(": ")
        let valueStart = self.bytes.writerIndex - base
        let valueLength = self.bytes.writeString(value)
        self.bytes.writeStaticString("\r\n")
        self.ranges.append(
            Range(
                nameStart: UInt32(nameStart), nameLength: UInt32(nameLength), valueStart: UInt32(valueStart),
                valueLength: UInt32(valueLength)))
    }

    /// Each field as `name: value\r\n`, copying runs of consecutive fields that are still as they were parsed.
    func write(into buffer: inout ByteBuffer) {
        self.bytes.withUnsafeReadableBytes { raw in
            var index = 0
            while index < self.ranges.count {
                let first = self.ranges[index]
                // A field's line runs from its name to the end of its line; consecutive fields whose lines touch
                // are copied in one go.
                var lineEnd = Self.lineEnd(raw, after: Int(first.valueStart + first.valueLength))
                var next = index + 1
                while next < self.ranges.count, Int(self.ranges[next].nameStart) == lineEnd {
                    let range = self.ranges[next]
                    lineEnd = Self.lineEnd(raw, after: Int(range.valueStart + range.valueLength))
                    next += 1
                }
                let start = Int(first.nameStart)
                if lineEnd <= raw.count, raw[lineEnd - 1] == 0x0a, lineEnd >= 2, raw[lineEnd - 2] == 0x0d {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[start..<lineEnd]))
                } else {
                    // Bare-LF lines (accepted from lenient clients) are written with CRLF, one field at a time.
                    for field in self.ranges[index..<next] {
                        buffer.writeBytes(
                            UnsafeRawBufferPointer(rebasing: raw[Int(field.nameStart)..<Int(field.nameStart + field.nameLength)]))
                        buffer.writeStaticString(": ")
                        buffer.writeBytes(
                            UnsafeRawBufferPointer(rebasing: raw[Int(field.valueStart)..<Int(field.valueStart + field.valueLength)]))
                        buffer.writeStaticString("\r\n")
                    }
                }
                index = next
            }
        }
    }

    /// The offset just past the line terminator following a value (trailing whitespace, then CRLF or LF).
    static func lineEnd(_ raw: UnsafeRawBufferPointer, after valueEnd: Int) -> Int {
        var index = valueEnd
        while index < raw.count, raw[index] != 0x0a { index += 1 }
        return min(index + 1, raw.count)
    }
}
