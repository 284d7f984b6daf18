import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The route stage against scripted upstreams: the wait for a first policy, the Gateway API's 404 for a request no
/// route matches, redirects, and the filters that change the request and the response.
@Suite struct RouteStageTests {
    static func route(_ rules: [RouteRule]) -> [Route] { [Route(kind: .http, namespace: "demo", name: "r", rules: rules)] }
    static func backend(_ name: String, weight: Int = 1, filters: [RouteFilter] = []) -> RouteBackend {
        RouteBackend(namespace: "demo", name: name, port: 8080, weight: weight, filters: filters)
    }

    @Test func theFirstRequestWaitsForThePolicyThenGoesByItsRoutes() {
        let harness = ExchangeHarness(publishNoPolicy: false)
        harness.endpoints(1)
        let waiting = harness.send("GET", "/other")
        #expect(waiting.status == nil && harness.upstreams.attempts.isEmpty, "no policy yet: the request waits")
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/api"))]), backends: [Self.backend("web")])])))
        harness.run()
        #expect(waiting.status == 404, "the policy's routes decide the waiting request")
    }

    @Test func withoutAPolicyInTimeTheRequestGoesToTheService() {
        let harness = ExchangeHarness(publishNoPolicy: false)
        harness.endpoints(1)
        let waiting = harness.send()
        harness.advance(.milliseconds(2999))
        #expect(waiting.status == nil)
        harness.advance(.milliseconds(1))
        #expect(waiting.status == 200)
        #expect(harness.upstreams.targets == [HostPort(host: "10.0.0.1", port: 8080)])
    }

    @Test func aRedirectIsAnsweredByTheProxyWithItsLocation() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(
                        matches: .http([HTTPRouteMatch(path: .prefix("/old"))]),
                        filters: [.requestRedirect(.init(path: .replacePrefixMatch("/new"), statusCode: 301))])
                ])))
        let answer = harness.send("GET", "/old/page?x=1")
        #expect(answer.status == 301)
        #expect(answer.head?.fields.first("location") == "http://web.demo.svc.cluster.local:8080/new/page?x=1")
        #expect(harness.upstreams.attempts.isEmpty)
        #expect(
            harness.metric("outbound_http_route_request_statuses_total", "http_status=\"301\"") == 1, "the route counts what it answered")
    }

    @Test func aRequestNoAttachedRouteMatchesIs404AndAGRPCCallUnimplemented() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/api"))]), backends: [Self.backend("web")])])))
        let missed = harness.send("GET", "/other")
        #expect(missed.status == 404 && missed.proxyError?.hasPrefix("route_not_found") == true)
        #expect(harness.send("GET", "/api/x").status == 200)

        let grpc = ExchangeHarness(http2: true)
        grpc.endpoints(1)
        grpc.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/api"))]), backends: [Self.backend("web")])])))
        let call = grpc.send("POST", "/test.Echo/Unary", fields: [("content-type", "application/grpc")])
        #expect(call.status == 200 && call.head?.fields.first("grpc-status") == "12")
    }

    @Test func theRulesAndTheBackendsFiltersChangeTheRequestAndTheResponse() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        let ruleFilters: [RouteFilter] = [
            .requestHeaderModifier(.init(set: [HTTPFieldPair(name: "x-rule", value: "1")], remove: ["x-drop"])),
            .urlRewrite(.init(path: .replacePrefixMatch("/v2"))),
            .responseHeaderModifier(.init(add: [HTTPFieldPair(name: "x-rule-response", value: "yes")])),
        ]
        let backendFilters: [RouteFilter] = [
            .requestHeaderModifier(.init(add: [HTTPFieldPair(name: "x-backend", value: "web")])),
            .responseHeaderModifier(.init(set: [HTTPFieldPair(name: "x-backend-response", value: "web")])),
        ]
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(
                        matches: .http([HTTPRouteMatch(path: .prefix("/v1"))]), filters: ruleFilters,
                        backends: [Self.backend("web", filters: backendFilters)])
                ])))
        let answer = harness.send("GET", "/v1/items", fields: [("x-drop", "me")])
        #expect(answer.status == 200)
        let sent = harness.upstreams.attempts.first?.head
        #expect(sent?.path == "/v2/items")
        #expect(sent?.fields.first("x-rule") == "1" && sent?.fields.first("x-backend") == "web" && sent?.fields.first("x-drop") == nil)
        #expect(answer.head?.fields.first("x-rule-response") == "yes" && answer.head?.fields.first("x-backend-response") == "web")
    }
}
