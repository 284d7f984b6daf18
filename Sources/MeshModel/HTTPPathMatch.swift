/// An HTTPRoute path match (`Exact`, `PathPrefix`, `RegularExpression`), against the request's path without its
/// query.
public enum HTTPPathMatch: Hashable, Sendable {
    case exact(String)
    /// Matched element by element on `/`: `/abc` matches `/abc`, `/abc/` and `/abc/def`, never `/abcd`. A trailing
    /// `/` in the prefix is ignored (stored without it; `/` itself is stored as the empty string).
    case prefix(String)
    case regularExpression(RouteRegex)

    /// The Gateway API's default when a match gives no path: every request.
    public static let everything = HTTPPathMatch.prefix("")

    /// A validated path match: a path must start with `/` and may not carry a query, a fragment, `//`, or `.`/`..`
    /// segments (what the Gateway API's CRD validation refuses).
    public static func make(type: String, value: String) throws(RouteError) -> HTTPPathMatch {
        switch type {
        case "Exact", "PathPrefix":
            guard value.hasPrefix("/") else { throw RouteError(.invalidPath, "path \"\(value)\" must start with \"/\"") }
            guard !value.contains("?"), !value.contains("#") else {
                throw RouteError(.invalidPath, "path \"\(value)\" must not contain a query or a fragment")
            }
            guard !value.contains("//") else { throw RouteError(.invalidPath, "path \"\(value)\" must not contain \"//\"") }
            let segments = value.split(separator: "/", omittingEmptySubsequences: false)
            guard !segments.contains(where: { $0 == "." || $0 == ".." }) else {
                throw RouteError(.invalidPath, "path \"\(value)\" must not contain \".\" or \"..\" segments")
            }
            if type == "Exact" { return .exact(value) }
            var prefix = Substring(value)
            while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
            return .prefix(String(prefix))
        case "RegularExpression":
            return .regularExpression(try RouteRegex(value))
        default:
            throw RouteError(.invalidValue, "path type \"\(type)\" is not Exact, PathPrefix or RegularExpression")
        }
    }

    public func matches(_ path: Substring) -> Bool {
        switch self {
        case .exact(let expected):
            return path == expected
        case .prefix(let prefix):
            guard path.hasPrefix(prefix) else { return false }
            let rest = path.dropFirst(prefix.utf8.count)
            return rest.isEmpty || rest.first == "/"
        case .regularExpression(let regex):
            return regex.matches(path)
        }
    }

    /// Precedence among path matches: `Exact` over `RegularExpression` over `PathPrefix`, then the most characters.
    var rank: (kind: Int, length: Int) {
        switch self {
        case .exact(let value): (2, value.utf8.count)
        case .regularExpression(let regex): (1, regex.pattern.utf8.count)
        case .prefix(let value): (0, value.isEmpty ? 1 : value.utf8.count)
        }
    }
}
