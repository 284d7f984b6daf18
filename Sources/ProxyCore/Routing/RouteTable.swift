import MeshModel

/// The routes attached to one Service port, in the Gateway API's order of precedence: a request goes to the rule of
/// the first match it satisfies.
///
/// The order, most specific first: the route's best matching hostname (exact characters, then any); then the match
/// itself (HTTPRoute: `Exact` path, regular expression, `PathPrefix`, more path characters, a method, more headers,
/// more query parameters; GRPCRoute: more characters of service, of method, more headers); then the older route; then
/// namespace/name; then the rule's and the match's place in the route. Sorted once when the routes change, so a
/// request pays only for the matches it is tried against.
public struct RouteTable: Sendable {
    public let routes: [Route]
    /// (route, rule, match), most specific first, hostnames aside.
    private let entries: [Entry]
    private let anyHostnames: Bool

    struct Entry: Sendable {
        var route: Int
        var rule: Int
        var match: Int
    }

    /// What a request was matched to.
    public struct Selection: Sendable {
        public var route: Route
        /// The route's place in `RouteTable.routes`.
        public var routeIndex: Int
        public var ruleIndex: Int
        public var matchIndex: Int
        public var rule: RouteRule { self.route.rules[self.ruleIndex] }

        /// The prefix the request matched, when its match was a `PathPrefix` (what `ReplacePrefixMatch` replaces).
        public var matchedPrefix: String? {
            guard case .http(let matches) = self.rule.matches, case .prefix(let prefix) = matches[self.matchIndex].path else { return nil }
            return prefix
        }
    }

    /// A GRPCRoute and an HTTPRoute on one parent conflict; the GRPCRoutes are kept (GEP-1426), as Linkerd does.
    /// `conflicted` are the HTTPRoutes left out.
    public init(_ routes: [Route]) {
        let hasGRPC = routes.contains { $0.kind == .grpc }
        let kept = hasGRPC ? routes.filter { $0.kind == .grpc } : routes
        self.conflicted = hasGRPC ? routes.filter { $0.kind == .http } : []
        self.routes = kept
        self.anyHostnames = kept.contains { !$0.hostnames.isEmpty }
        var entries: [(Entry, [Int])] = []
        for (r, route) in kept.enumerated() {
            for (i, rule) in route.rules.enumerated() {
                for m in 0..<rule.matchCount { entries.append((Entry(route: r, rule: i, match: m), rule.specificity(m))) }
            }
        }
        entries.sort { a, b in
            if a.1 != b.1 { return b.1.lexicographicallyPrecedes(a.1) }  // more specific first
            let ra = kept[a.0.route], rb = kept[b.0.route]
            if ra.created != rb.created { return ra.created < rb.created }
            if ra.namespace != rb.namespace { return ra.namespace < rb.namespace }
            if ra.name != rb.name { return ra.name < rb.name }
            if a.0.rule != b.0.rule { return a.0.rule < b.0.rule }
            return a.0.match < b.0.match
        }
        self.entries = entries.map(\.0)
        // HTTPRoutes without hostnames (the usual mesh route) are indexed by path: a request is tried only against
        // the matches whose path can match it, in the same order. (With hostnames, or for GRPCRoutes, the sorted
        // list is walked.)
        var exact: [Substring: [Int]] = [:], prefix: [Substring: [Int]] = [:], regex: [Int] = []
        if !self.anyHostnames, !hasGRPC {
            for (position, entry) in self.entries.enumerated() {
                guard case .http(let matches) = kept[entry.route].rules[entry.rule].matches else { continue }
                switch matches[entry.match].path {
                case .exact(let path): exact[path[...], default: []].append(position)
                case .prefix(let path): prefix[path[...], default: []].append(position)
                case .regularExpression: regex.append(position)
                }
            }
        }
        self.pathIndex = !self.anyHostnames && !hasGRPC ? PathIndex(exact: exact, prefix: prefix, regex: regex) : nil
    }

    /// Entry positions by path match, each list in precedence order.
    struct PathIndex: Sendable {
        /// Keyed by `Substring` so that a request's path and its prefixes are looked up without copying them.
        var exact: [Substring: [Int]]
        var prefix: [Substring: [Int]]
        var regex: [Int]
    }

    private let pathIndex: PathIndex?

    public let conflicted: [Route]

    public var isEmpty: Bool { self.routes.isEmpty }

    public func select(_ request: RouteRequest) -> Selection? {
        guard let index = self.pathIndex else { return self.selectInOrder(request) }
        // Exact paths outrank regular expressions, which outrank prefixes; longer prefixes outrank shorter ones.
        if let candidates = index.exact[request.path], let found = self.first(of: candidates, request) { return found }
        if let found = self.first(of: index.regex, request) { return found }
        let path = request.path
        if !path.hasSuffix("/"), let candidates = index.prefix[path], let found = self.first(of: candidates, request) { return found }
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            if let candidates = index.prefix[path[..<slash]], let found = self.first(of: candidates, request) { return found }
            end = slash
        }
        return nil
    }

    private func first(of positions: [Int], _ request: RouteRequest) -> Selection? {
        for position in positions {
            let entry = self.entries[position]
            if self.routes[entry.route].rules[entry.rule].matches(entry.match, request) {
                return Selection(route: self.routes[entry.route], routeIndex: entry.route, ruleIndex: entry.rule, matchIndex: entry.match)
            }
        }
        return nil
    }

    /// Walks every match in precedence order: the reference the path index must agree with.
    func selectInOrder(_ request: RouteRequest) -> Selection? {
        guard self.anyHostnames else {
            for entry in self.entries where self.routes[entry.route].rules[entry.rule].matches(entry.match, request) {
                return Selection(route: self.routes[entry.route], routeIndex: entry.route, ruleIndex: entry.rule, matchIndex: entry.match)
            }
            return nil
        }
        // Hostnames come first in precedence: the first match within the best hostname rank wins.
        // Each route's rank is worked out once, not once per match.
        let ranks = self.routes.map { $0.hostnameRank(request.host) }
        var best: (rank: [Int], entry: Entry)? = nil
        for entry in self.entries {
            guard let rank = ranks[entry.route] else { continue }
            if let current = best, !current.rank.lexicographicallyPrecedes(rank) { continue }
            if self.routes[entry.route].rules[entry.rule].matches(entry.match, request) { best = (rank, entry) }
        }
        return best.map {
            Selection(route: self.routes[$0.entry.route], routeIndex: $0.entry.route, ruleIndex: $0.entry.rule, matchIndex: $0.entry.match)
        }
    }
}
