import MeshModel
import Testing

@testable import ProxyCore

/// Route precedence and matching as the Gateway API specifies them (HTTPRoute and GRPCRoute "rules" precedence,
/// path element matching, GEP-1426 conflicts), each case an example a user could write.
@Suite struct RouteTableTests {
    static func backend(_ name: String) -> [RouteBackend] { [RouteBackend(namespace: "default", name: name, port: 80)] }

    static func http(
        _ name: String, created: Int64 = 0, namespace: String = "default", hostnames: [String] = [], _ rules: [([HTTPRouteMatch], String)]
    ) -> Route {
        Route(
            kind: .http, namespace: namespace, name: name, created: created, hostnames: hostnames.map { try! RouteHostname.make($0) },
            rules: rules.map { RouteRule(matches: .http($0.0), backends: Self.backend($0.1)) }
        )
    }

    static func path(
        _ type: String, _ value: String, method: String? = nil, headers: [(String, String)] = [], query: [(String, String)] = []
    ) -> HTTPRouteMatch {
        HTTPRouteMatch(
            path: try! HTTPPathMatch.make(type: type, value: value), method: method,
            headers: headers.map { RouteHeaderMatch(name: $0.0, value: .exact($0.1)) },
            queryParams: query.map { RouteQueryMatch(name: $0.0, value: .exact($0.1)) }
        )
    }

    /// The backend the request goes to, or nil when no rule takes it.
    static func target(
        _ table: RouteTable, _ target: String, method: String = "GET", host: String? = "web.default.svc.cluster.local:80",
        fields: [(String, String)] = []
    ) -> String? {
        table.select(RouteRequest(method: method, authority: host, target: target, fields: HTTPFields(fields)))?.rule.backends.first?.name
    }

    @Test func anExactPathBeatsAPrefixOfTheSameCharacters() {
        let table = RouteTable([Self.http("r", [([Self.path("PathPrefix", "/foo")], "prefix"), ([Self.path("Exact", "/foo")], "exact")])])
        #expect(Self.target(table, "/foo") == "exact")
        #expect(Self.target(table, "/foo/bar") == "prefix")
        #expect(Self.target(table, "/foo?x=1") == "exact", "the query is not part of the path")
    }

    @Test func theLongestPrefixWinsAndPrefixesMatchWholeElements() {
        let table = RouteTable([
            Self.http(
                "r",
                [
                    ([Self.path("PathPrefix", "/")], "root"), ([Self.path("PathPrefix", "/foo")], "foo"),
                    ([Self.path("PathPrefix", "/foo/bar/")], "foobar"),
                ])
        ])
        #expect(Self.target(table, "/foo/bar/baz") == "foobar")
        #expect(Self.target(table, "/foo/bar") == "foobar", "a trailing / in a prefix is ignored")
        #expect(Self.target(table, "/foo/") == "foo")
        #expect(Self.target(table, "/foo/baz") == "foo")
        #expect(Self.target(table, "/foobar") == "root", "/foo does not match /foobar")
        #expect(Self.target(table, "/") == "root")
    }

    @Test func pathCharactersComeBeforeAMethodAndAMethodBeforeHeaders() {
        // The Gateway API conformance case: a longer path beats a method; a method beats headers.
        let table = RouteTable([
            Self.http(
                "r",
                [
                    ([Self.path("PathPrefix", "/", method: "PATCH")], "method"),
                    ([Self.path("PathPrefix", "/path5")], "path"),
                    ([Self.path("PathPrefix", "/", headers: [("version", "four")])], "header"),
                ])
        ])
        #expect(Self.target(table, "/path5", method: "PATCH") == "path")
        #expect(Self.target(table, "/", method: "PATCH", fields: [("version", "four")]) == "method")
        #expect(Self.target(table, "/", method: "GET", fields: [("version", "four")]) == "header")
        #expect(Self.target(table, "/", method: "GET") == nil, "no rule without conditions: nothing matches")
    }

    @Test func moreHeadersBeatFewerAndHeadersBeatQueryParameters() {
        let table = RouteTable([
            Self.http(
                "r",
                [
                    ([Self.path("PathPrefix", "/", headers: [("a", "1")])], "one-header"),
                    ([Self.path("PathPrefix", "/", headers: [("a", "1"), ("b", "2")])], "two-headers"),
                    ([Self.path("PathPrefix", "/", query: [("q", "1"), ("r", "2")])], "two-params"),
                    ([Self.path("PathPrefix", "/", headers: [("a", "1")], query: [("q", "1")])], "header-and-param"),
                ])
        ])
        #expect(Self.target(table, "/", fields: [("a", "1"), ("b", "2")]) == "two-headers")
        #expect(Self.target(table, "/?q=1&r=2", fields: [("a", "1")]) == "header-and-param")
        #expect(Self.target(table, "/x?q=1&r=2") == "two-params")
        #expect(Self.target(table, "/", fields: [("A", "1")]) == "one-header", "header names are case-insensitive")
        #expect(Self.target(table, "/", fields: [("a", "X")]) == nil, "header values are case-sensitive")
    }

    @Test func tiesGoToTheOlderRouteThenTheFirstNameThenTheFirstRule() {
        let same = [Self.path("PathPrefix", "/api")]
        let older = Self.http("zeta", created: 100, [(same, "older")])
        let newer = Self.http("alpha", created: 200, [(same, "newer")])
        #expect(Self.target(RouteTable([newer, older]), "/api") == "older")
        let a = Self.http("alpha", created: 100, [(same, "alpha")])
        let b = Self.http("beta", created: 100, [(same, "beta")])
        #expect(Self.target(RouteTable([b, a]), "/api") == "alpha")
        let otherNamespace = Self.http("alpha", created: 100, namespace: "aaa", [(same, "namespace-aaa")])
        #expect(Self.target(RouteTable([a, otherNamespace]), "/api") == "namespace-aaa")
        let twoRules = Self.http("r", [(same, "first"), (same, "second")])
        #expect(Self.target(RouteTable([twoRules]), "/api") == "first")
    }

    @Test func aRuleWithoutMatchesTakesEveryRequestButLosesToAnyPath() {
        let table = RouteTable([Self.http("r", [([], "default"), ([Self.path("PathPrefix", "/v2")], "v2")])])
        #expect(Self.target(table, "/v2/x") == "v2")
        #expect(Self.target(table, "/anything") == "default")
        #expect(Self.target(table, "/", method: "POST") == "default")
    }

    @Test func anyOneMatchOfARuleIsEnough() {
        let rule = [Self.path("PathPrefix", "/foo", headers: [("version", "v2")]), Self.path("PathPrefix", "/v2/foo")]
        let table = RouteTable([Self.http("r", [(rule, "v2")])])
        #expect(Self.target(table, "/foo", fields: [("version", "v2")]) == "v2")
        #expect(Self.target(table, "/v2/foo") == "v2")
        #expect(Self.target(table, "/foo") == nil)
    }

    @Test func regularExpressionsMatchTheWholeValueAndRankBetweenExactAndPrefix() throws {
        let regex = HTTPRouteMatch(path: try HTTPPathMatch.make(type: "RegularExpression", value: "/users/[0-9]+"))
        let table = RouteTable([
            Self.http(
                "r", [([regex], "regex"), ([Self.path("PathPrefix", "/users")], "prefix"), ([Self.path("Exact", "/users/42")], "exact")])
        ])
        #expect(Self.target(table, "/users/7") == "regex")
        #expect(Self.target(table, "/users/42") == "exact")
        #expect(Self.target(table, "/users/7/posts") == "prefix", "a regular expression matches the whole path")
        let header = HTTPRouteMatch(headers: [RouteHeaderMatch(name: "x-tenant", value: .regularExpression(try RouteRegex("team-(a|b)")))])
        let byHeader = RouteTable([Self.http("r", [([header], "tenant")])])
        #expect(Self.target(byHeader, "/", fields: [("x-tenant", "team-b")]) == "tenant")
        #expect(Self.target(byHeader, "/", fields: [("x-tenant", "team-c")]) == nil)
        #expect(throws: RouteError.self) { try RouteRegex("([unclosed") }
    }

    @Test func hostnamesComeFirstExactBeforeWildcardBeforeNone() {
        let anyPath = [Self.path("PathPrefix", "/")]
        let none = Self.http("none", [([Self.path("Exact", "/x")], "no-hostnames")])
        let wildcard = Self.http("wild", hostnames: ["*.example.com"], [(anyPath, "wildcard")])
        let exact = Self.http("exact", hostnames: ["api.example.com"], [(anyPath, "exact")])
        let table = RouteTable([none, wildcard, exact])
        #expect(Self.target(table, "/x", host: "api.example.com:8080") == "exact", "the port is ignored; a hostname beats a longer path")
        #expect(Self.target(table, "/x", host: "www.example.com") == "wildcard")
        #expect(Self.target(table, "/x", host: "a.b.example.com") == "wildcard", "a wildcard matches several labels")
        #expect(Self.target(table, "/x", host: "example.com") == "no-hostnames", "a wildcard does not match the bare domain")
        #expect(Self.target(table, "/y", host: "other.org") == nil)
        #expect(Self.target(table, "/x", host: "API.Example.COM") == "exact", "hosts compare without case")
    }

    @Test func queryParameterNamesAreCaseSensitiveAndValuesDecoded() {
        let table = RouteTable([Self.http("r", [([Self.path("PathPrefix", "/", query: [("name", "a b")])], "q")])])
        #expect(Self.target(table, "/?name=a%20b") == "q")
        #expect(Self.target(table, "/?x=1&name=a+b") == "q")
        #expect(Self.target(table, "/?Name=a%20b") == nil)
        #expect(Self.target(table, "/?name=a%20b&name=c") == "q", "the first value counts")
        #expect(Self.target(table, "/?name=c&name=a%20b") == nil)
    }

    @Test func grpcRoutesMatchServiceAndMethodWithTheLongestServiceFirst() throws {
        func grpc(_ name: String, _ rules: [([GRPCRouteMatch], String)]) -> Route {
            Route(
                kind: .grpc, namespace: "default", name: name,
                rules: rules.map { RouteRule(matches: .grpc($0.0), backends: Self.backend($0.1)) })
        }
        let table = RouteTable([
            grpc(
                "g",
                [
                    ([GRPCRouteMatch(service: .exact("emoji.v1.EmojiService"))], "service"),
                    ([GRPCRouteMatch(service: .exact("emoji.v1.EmojiService"), method: .exact("ListAll"))], "method"),
                    ([GRPCRouteMatch(method: .regularExpression(try RouteRegex("Vote.*")))], "votes"),
                    ([], "default"),
                ])
        ])
        #expect(Self.target(table, "/emoji.v1.EmojiService/ListAll", method: "POST") == "method")
        #expect(Self.target(table, "/emoji.v1.EmojiService/FindByShortcode", method: "POST") == "service")
        #expect(Self.target(table, "/voting.v1.VotingService/VoteDoughnut", method: "POST") == "votes")
        #expect(Self.target(table, "/other.Service/Call", method: "POST") == "default")
        #expect(Self.target(table, "/emoji.v1.EmojiService/ListAll", method: "GET") == "default", "a gRPC call is a POST")
    }

    @Test func aGRPCRouteOnTheSameParentPushesHTTPRoutesOut() {
        let http = Self.http("web", [([Self.path("PathPrefix", "/")], "http")])
        let grpc = Route(
            kind: .grpc, namespace: "default", name: "api", rules: [RouteRule(matches: .grpc([]), backends: Self.backend("grpc"))])
        let table = RouteTable([http, grpc])
        #expect(Self.target(table, "/pkg.Svc/M", method: "POST") == "grpc")
        #expect(table.conflicted.map(\.name) == ["web"])
    }

    /// The path index must pick exactly what walking every match in precedence order picks: random tables of
    /// routes over a small vocabulary of paths (so that matches collide), random requests.
    @Test func thePathIndexAgreesWithTheFullWalk() throws {
        var random = SplitMix64(state: 11)
        let segments = ["a", "b", "api", "v1"]
        func path(_ depth: Int) -> String { "/" + (0..<depth).map { _ in segments.randomElement(using: &random)! }.joined(separator: "/") }
        for round in 0..<200 {
            var routes: [Route] = []
            for r in 0..<Int.random(in: 1...6, using: &random) {
                var rules: [([HTTPRouteMatch], String)] = []
                for i in 0..<Int.random(in: 1...3, using: &random) {
                    var matches: [HTTPRouteMatch] = []
                    for _ in 0..<Int.random(in: 0...2, using: &random) {
                        let value = path(Int.random(in: 0...3, using: &random))
                        let kind = ["Exact", "PathPrefix", "PathPrefix", "RegularExpression"].randomElement(using: &random)!
                        let pathMatch = try HTTPPathMatch.make(
                            type: kind, value: kind == "RegularExpression" ? value + "(/.*)?" : (value.isEmpty ? "/" : value))
                        matches.append(
                            HTTPRouteMatch(
                                path: pathMatch, method: Bool.random(using: &random) ? nil : "GET",
                                headers: Bool.random(using: &random) ? [] : [RouteHeaderMatch(name: "x", value: .exact("1"))]
                            ))
                    }
                    rules.append((matches, "r\(r)-\(i)"))
                }
                routes.append(Self.http("route-\(r)", created: Int64.random(in: 0...2, using: &random), rules))
            }
            let table = RouteTable(routes)
            for _ in 0..<50 {
                var target = path(Int.random(in: 0...4, using: &random))
                if target.isEmpty || Bool.random(using: &random) { target += "/" }
                let request = RouteRequest(
                    method: Bool.random(using: &random) ? "GET" : "POST", authority: "web:80", target: target,
                    fields: HTTPFields(Bool.random(using: &random) ? [("x", "1")] : [])
                )
                let indexed = table.select(request).map { "\($0.route.name)#\($0.ruleIndex)" }
                let walked = table.selectInOrder(request).map { "\($0.route.name)#\($0.ruleIndex)" }
                #expect(indexed == walked, "round \(round), \(request.method) \(target)")
            }
        }
    }

    @Test func pathMatchesAreValidatedAsTheCRDDoes() {
        #expect(throws: RouteError.self) { try HTTPPathMatch.make(type: "PathPrefix", value: "foo") }
        #expect(throws: RouteError.self) { try HTTPPathMatch.make(type: "Exact", value: "/a//b") }
        #expect(throws: RouteError.self) { try HTTPPathMatch.make(type: "Exact", value: "/a/../b") }
        #expect(throws: RouteError.self) { try HTTPPathMatch.make(type: "Exact", value: "/a?b=1") }
        #expect(throws: RouteError.self) { try HTTPPathMatch.make(type: "Suffix", value: "/a") }
        #expect(throws: RouteError.self) { try RouteHostname.make("10.0.0.1") }
        #expect(throws: RouteError.self) { try RouteHostname.make("a.*.com") }
    }

    @Test func durationsAndRetryConditionsParseAsDocumented() throws {
        #expect(try GatewayDuration.parse("10s") == 10_000_000_000)
        #expect(try GatewayDuration.parse("1h30m") == 5_400_000_000_000)
        #expect(try GatewayDuration.parse("500ms") == 500_000_000)
        #expect(try GatewayDuration.parse("0s") == 0)
        #expect(try GatewayDuration.parse("2.5s", allowFractions: true) == 2_500_000_000)
        #expect(throws: RouteError.self) { try GatewayDuration.parse("2.5s") }
        #expect(throws: RouteError.self) { try GatewayDuration.parse("10") }
        #expect(throws: RouteError.self) { try GatewayDuration.parse("123456s") }
        #expect(throws: RouteError.self) { try GatewayDuration.parse("1h1m1s1ms1h") }
        let retry = RouteRetry(statuses: try RouteRetry.parseStatuses("gateway-error, 429,418-420"))
        #expect(retry.retries(status: 503) && retry.retries(status: 429) && retry.retries(status: 419))
        #expect(!retry.retries(status: 500) && !retry.retries(status: 200))
        #expect(try RouteRetry.parseStatuses("5xx") == [500...599])
        #expect(try RouteRetry.parseGRPCCodes("unavailable,Deadline-Exceeded") == [14, 4])
        #expect(throws: RouteError.self) { try RouteRetry.parseStatuses("6xx") }
        #expect(throws: RouteError.self) { try RouteRetry.parseGRPCCodes("not-found") }
    }
}
