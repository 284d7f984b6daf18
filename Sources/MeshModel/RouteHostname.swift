/// A route's hostname: exact (`api.example.com`) or a wildcard (`*.example.com`, which matches `a.example.com` and
/// `a.b.example.com`, never `example.com`). Matched against the request's host, its port ignored.
public enum RouteHostname: Hashable, Sendable {
    case exact(String)
    /// The suffix after `*`, with its dot: `.example.com`.
    case wildcard(String)

    /// A validated hostname: RFC 1123 labels, lower case, optionally led by a `*.` label; no IP address.
    public static func make(_ text: String) throws(RouteError) -> RouteHostname {
        let value = text.lowercased()
        var labels = value.split(separator: ".", omittingEmptySubsequences: false)
        let wildcard = labels.first == "*"
        if wildcard { labels.removeFirst() }
        let valid =
            !labels.isEmpty && value.utf8.count <= 253
            && labels.allSatisfy { label in
                let bytes = Array(label.utf8)
                return !bytes.isEmpty && bytes.count <= 63 && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
                    && bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
            }
        guard valid else { throw RouteError(.invalidValue, "hostname \"\(text)\" is not a DNS name (an optional leading \"*.\" label)") }
        guard !labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) else {
            throw RouteError(.invalidValue, "hostname \"\(text)\" is an IP address; routes take names")
        }
        return wildcard ? .wildcard("." + labels.joined(separator: ".")) : .exact(value)
    }

    public func matches(_ host: Substring) -> Bool {
        switch self {
        case .exact(let name): host == name
        case .wildcard(let suffix): host.utf8.count > suffix.utf8.count && host.hasSuffix(suffix)
        }
    }

    /// Precedence (Gateway API): the most characters in a matching exact hostname, then in any matching hostname.
    var rank: [Int] {
        switch self {
        case .exact(let name): [name.utf8.count, name.utf8.count]
        case .wildcard(let suffix): [0, suffix.utf8.count + 1]
        }
    }
}
