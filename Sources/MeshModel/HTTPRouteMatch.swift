/// One entry of an HTTPRoute rule's `matches`: every condition given must hold.
public struct HTTPRouteMatch: Hashable, Sendable {
    public var path: HTTPPathMatch
    /// Upper case, as sent: `GET`, `POST`.
    public var method: String?
    public var headers: [RouteHeaderMatch]
    public var queryParams: [RouteQueryMatch]

    public init(
        path: HTTPPathMatch = .everything, method: String? = nil, headers: [RouteHeaderMatch] = [], queryParams: [RouteQueryMatch] = []
    ) {
        self.path = path
        self.method = method
        // Of several matches on one name only the first counts (Gateway API): the others are dropped here.
        var seen: Set<String> = []
        self.headers = headers.filter { seen.insert($0.name).inserted }
        var seenParams: Set<String> = []
        self.queryParams = queryParams.filter { seenParams.insert($0.name).inserted }
    }

    /// A rule without `matches` matches every request.
    public static let everything = HTTPRouteMatch()

    /// The Gateway API's precedence among matches of HTTPRoutes, most specific first: an `Exact` path, then
    /// (ours: the Gateway API leaves it open, Linkerd does the same) a `RegularExpression`, then a `PathPrefix`;
    /// more path characters; a method; more header matches; more query parameter matches.
    package var specificity: [Int] {
        let path = self.path.rank
        return [path.kind, path.length, self.method == nil ? 0 : 1, self.headers.count, self.queryParams.count]
    }
}
