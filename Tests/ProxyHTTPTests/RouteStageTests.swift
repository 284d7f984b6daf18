import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The route stage against scripted upstreams: the weighted split, injected faults, redirects, the Gateway API's
/// 404 for a request no route matches, and failure accrual with its probation.
@Suite struct RouteStageTests {
    static func route(_ rules: [RouteRule]) -> [Route] { [Route(kind: .http, namespace: "demo", name: "r", rules: rules)] }
    static func backend(_ name: String, weight: Int = 1) -> RouteBackend { RouteBackend(namespace: "demo", name: name, port: 8080, weight: weight) }

    @Test func theSplitSendsEachRequestToABackendByWeightAndWeightZeroGetsNone() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(ExchangeHarness.servicePolicy(routes: Self.route([RouteRule(matches: .http([]), backends: [Self.backend("web", weight: 0), Self.backend("web-v2", weight: 100)])])))
        for _ in 0..<20 { #expect(harness.send().status == 200) }
        #expect(Set(harness.upstreams.targets.map(\.host)) == ["10.0.2.1"])
        #expect(harness.metric("outbound_http_route_backend_requests_total", "backend_name=\"web-v2\"") == 20)
    }

    @Test func aFaultAbortsOrDelaysItsShare() {
        let aborting = ExchangeHarness()
        aborting.endpoints(1)
        aborting.policy(ExchangeHarness.servicePolicy(routes: Self.route([
            RouteRule(matches: .http([]), filters: [.fault(RouteFault(abortPercent: 100, abortStatus: 418))], backends: [Self.backend("web")])
        ])))
        #expect(aborting.send().status == 418)
        #expect(aborting.upstreams.attempts.isEmpty, "nothing went upstream")

        let delaying = ExchangeHarness()
        delaying.endpoints(1)
        delaying.policy(ExchangeHarness.servicePolicy(routes: Self.route([
            RouteRule(matches: .http([]), filters: [.fault(RouteFault(delayPercent: 100, delay: 200_000_000))], backends: [Self.backend("web")])
        ])))
        let delayed = delaying.send()
        #expect(delaying.upstreams.attempts.isEmpty && delayed.status == nil)
        delaying.advance(.milliseconds(200))
        #expect(delayed.status == 200)
    }

    @Test func aRedirectIsAnsweredByTheProxyWithItsLocation() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(ExchangeHarness.servicePolicy(routes: Self.route([
            RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/old"))]), filters: [.requestRedirect(.init(path: .replacePrefixMatch("/new"), statusCode: 301))])
        ])))
        let answer = harness.send("GET", "/old/page?x=1")
        #expect(answer.status == 301)
        #expect(answer.head?.fields.first("location") == "http://web.demo.svc.cluster.local:8080/new/page?x=1")
        #expect(harness.upstreams.attempts.isEmpty)
    }

    @Test func aRequestNoAttachedRouteMatchesIs404() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(ExchangeHarness.servicePolicy(routes: Self.route([RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/api"))]), backends: [Self.backend("web")])])))
        let missed = harness.send("GET", "/other")
        #expect(missed.status == 404 && missed.proxyError?.hasPrefix("route_not_found") == true)
        #expect(harness.send("GET", "/api/x").status == 200)
    }

    @Test func anEndpointFailingInARowIsEjectedThenGetsOneRequestOnProbation() {
        let failing = ExchangeHarness(script: { _, _ in .respond(503) })
        failing.endpoints(1)
        failing.policy(ExchangeHarness.servicePolicy(accrual: FailureAccrual(maxFailures: 3, minPenalty: 1_000_000_000, maxPenalty: 4_000_000_000, jitterRatio: 0)))
        for _ in 0..<3 { #expect(failing.send().status == 503) }
        let ejected = failing.send()
        #expect(ejected.status == 503 && ejected.proxyError?.hasPrefix("circuit_open") == true, "\(ejected.proxyError ?? "")")
        #expect(failing.upstreams.attempts.count == 3, "nothing is sent while it is ejected")
        failing.advance(.seconds(1))
        #expect(failing.send().status == 503, "after the penalty, one request on probation")
        #expect(failing.upstreams.attempts.count == 4)
        #expect(failing.send().proxyError?.hasPrefix("circuit_open") == true, "a failed probation ejects it again")
    }

    @Test func aMirrorGetsACopyAndTheClientOnlyTheOriginalsAnswer() {
        let harness = ExchangeHarness(script: { _, target in target.endpoint.host == "10.0.2.1" ? .respond(500) : .respond(200) })
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(ExchangeHarness.servicePolicy(routes: Self.route([
            RouteRule(matches: .http([]), filters: [.requestMirror(Self.backend("web-v2"), percent: 100)], backends: [Self.backend("web")])
        ])))
        let answer = harness.send("POST", body: [ByteBuffer(string: "payload")])
        #expect(answer.status == 200)
        #expect(Set(harness.upstreams.targets.map(\.host)) == ["10.0.0.1", "10.0.2.1"])
        #expect(harness.upstreams.attempts.allSatisfy { String(buffer: $0.body) == "payload" })
    }
}
