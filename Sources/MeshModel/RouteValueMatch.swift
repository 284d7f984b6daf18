/// How a header, query parameter, gRPC service or method value is matched: `Exact` (the Gateway API's default) or
/// `RegularExpression`. Both are case-sensitive.
public enum RouteValueMatch: Hashable, Sendable {
    case exact(String)
    case regularExpression(RouteRegex)

    public func matches(_ value: Substring) -> Bool {
        switch self {
        case .exact(let expected): value == expected
        case .regularExpression(let regex): regex.matches(value)
        }
    }

    /// Characters in the match, for precedence (a gRPC service or method match: the longer wins).
    var length: Int {
        switch self {
        case .exact(let value): value.count
        case .regularExpression(let regex): regex.pattern.count
        }
    }
}
