/// What route matching looks at in a request, taken apart once: the host of its authority (lower case, no port),
/// its path without the query, the query, its method and its fields.
public struct RouteRequest: Sendable {
    public var method: String
    public var host: Substring?
    public var path: Substring
    public var query: Substring?
    public var fields: HTTPFields

    public init(_ head: HTTPRequestHead) {
        self.init(method: head.method, authority: head.authority, target: head.path, fields: head.fields)
    }

    public init(method: String, authority: String?, target: String, fields: HTTPFields = HTTPFields()) {
        self.method = method
        self.fields = fields
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            self.path = target[..<question]
            self.query = target[target.index(after: question)...]
        } else {
            self.path = target[...]
            self.query = nil
        }
        self.host = authority.map { Self.host(of: $0) }
    }

    /// `name.ns.svc.cluster.local:8080` → `name.ns.svc.cluster.local`; `[::1]:80` → `::1`; lower-cased.
    public static func host(of authority: String) -> Substring {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[host.index(after: host.startIndex)..<close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        if host.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { return Substring(host.lowercased()) }
        return host
    }

    /// The first value of query parameter `name` (names are case-sensitive), percent-decoded.
    public func queryValue(_ name: String) -> Substring? {
        guard let query = self.query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let (key, value): (Substring, Substring)
            if let equals = pair.firstIndex(of: "=") {
                (key, value) = (pair[..<equals], pair[pair.index(after: equals)...])
            } else {
                (key, value) = (pair, "")
            }
            if Self.percentDecoded(key) == name[...] { return Self.percentDecoded(value) }
        }
        return nil
    }

    static func percentDecoded(_ text: Substring) -> Substring {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                let high = iterator.next(), low = iterator.next()
                if let high, let low, let h = Self.hexValue(high), let l = Self.hexValue(low) {
                    bytes.append(h << 4 | l)
                } else {
                    bytes.append(byte)
                    if let high { bytes.append(high) }
                    if let low { bytes.append(low) }
                }
            default:
                bytes.append(byte)
            }
        }
        return Substring(String(decoding: bytes, as: UTF8.self))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }
}
