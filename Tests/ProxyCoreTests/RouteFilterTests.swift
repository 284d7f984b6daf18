import MeshModel
import ProxyCore
import Testing

/// The Gateway API's filters applied to heads, with the spec's own examples.
@Suite struct RouteFilterTests {
    @Test func headerModifiersRemoveThenSetThenAdd() {
        var fields = HTTPFields([("X-Debug", "1"), ("my-header", "foo"), ("x-route", "a"), ("X-Route", "b")])
        RouteFilter.HeaderModifier(
            set: [HTTPFieldPair(name: "X-Route", value: "canary")], add: [HTTPFieldPair(name: "my-header", value: "bar")],
            remove: ["x-debug"]
        ).apply(to: &fields)
        #expect(!fields.contains("x-debug"))
        #expect(fields.values("x-route") == ["canary"], "set replaces every field of the name, whatever its case")
        #expect(fields.values("my-header") == ["foo", "bar"], "add appends to what was there")
    }

    /// The ReplacePrefixMatch table of the Gateway API's HTTPPathModifier documentation.
    @Test(arguments: [
        ("/foo", "/foo/bar", "/xyz", "/xyz/bar"),
        ("/foo", "/foo/bar", "/xyz/", "/xyz/bar"),
        ("/foo/", "/foo/bar", "/xyz", "/xyz/bar"),
        ("/foo/", "/foo/bar", "/xyz/", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"),
        ("/foo", "/foo/", "/xyz", "/xyz/"),
        ("/foo/", "/foo", "/xyz", "/xyz"),
        ("/foo/", "/foo/", "/xyz", "/xyz/"),
        ("/foo", "/foo", "/", "/"),
        ("/foo", "/foo/", "/", "/"),
        ("/foo/", "/foo/bar", "/", "/bar"),
        ("/", "/foo/bar", "/xyz", "/xyz/foo/bar"),
    ])
    func replacePrefixMatchFollowsTheSpecTable(prefix: String, path: String, replacement: String, expected: String) throws {
        guard case .prefix(let stored) = try HTTPPathMatch.make(type: "PathPrefix", value: prefix) else {
            Issue.record("not a prefix"); return
        }
        #expect(RouteFilter.PathModifier.replacePrefixMatch(replacement).apply(to: path[...], matchedPrefix: stored) == expected)
    }

    @Test func redirectsKeepWhatTheyDoNotChangeAndDropDefaultPorts() {
        let request = (scheme: "http", host: "web.default.svc.cluster.local", port: 8080, target: "/old/page?x=1")
        func location(_ redirect: RouteFilter.Redirect) -> String {
            redirect.location(scheme: request.scheme, host: request.host, port: request.port, target: request.target, matchedPrefix: "/old")
        }
        #expect(location(.init()) == "http://web.default.svc.cluster.local:8080/old/page?x=1")
        #expect(location(.init(scheme: "https")) == "https://web.default.svc.cluster.local/old/page?x=1", "a new scheme takes its own port")
        #expect(location(.init(scheme: "https", port: 8443)) == "https://web.default.svc.cluster.local:8443/old/page?x=1")
        #expect(location(.init(hostname: "example.com", port: 80)) == "http://example.com/old/page?x=1")
        #expect(location(.init(path: .replacePrefixMatch("/new"))) == "http://web.default.svc.cluster.local:8080/new/page?x=1")
        #expect(location(.init(path: .replaceFullPath("/moved"))) == "http://web.default.svc.cluster.local:8080/moved?x=1")
    }

    @Test func rewritesChangeTheAuthorityAndPathButNotTheQuery() {
        var head = HTTPRequestHead(
            method: "GET", authority: "web:8080", path: "/api/v1/users?page=2", fields: HTTPFields([("Host", "web:8080")]))
        RouteFilter.Rewrite(hostname: "users.internal", path: .replacePrefixMatch("/v2")).apply(to: &head, matchedPrefix: "/api/v1")
        #expect(head.authority == "users.internal")
        #expect(head.fields.values("host") == ["users.internal"])
        #expect(head.path == "/v2/users?page=2")
    }
}
