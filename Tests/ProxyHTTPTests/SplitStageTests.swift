import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The split stage against scripted upstreams: each request to one backend by weight, the Gateway API's 500 for a
/// backend that names nothing, and mirrors.
@Suite struct SplitStageTests {
    static func route(_ rules: [RouteRule]) -> [Route] { [Route(kind: .http, namespace: "demo", name: "r", rules: rules)] }
    static func backend(_ name: String, weight: Int = 1, unresolved: String? = nil) -> RouteBackend {
        RouteBackend(namespace: "demo", name: name, port: 8080, weight: weight, unresolved: unresolved)
    }

    @Test func theSplitSendsEachRequestToABackendByWeightAndWeightZeroGetsNone() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(matches: .http([]), backends: [Self.backend("web", weight: 0), Self.backend("web-v2", weight: 100)])
                ])))
        for _ in 0..<20 { #expect(harness.send().status == 200) }
        #expect(Set(harness.upstreams.targets.map(\.host)) == ["10.0.2.1"])
        #expect(harness.metric("outbound_http_route_backend_requests_total", "backend_name=\"web-v2\"") == 20)
        #expect(harness.metric("outbound_http_route_backend_requests_total", "backend_name=\"web\"") == 0)
    }

    @Test func anEvenSplitReachesBothBackends() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([RouteRule(matches: .http([]), backends: [Self.backend("web"), Self.backend("web-v2")])])))
        for _ in 0..<64 { harness.send() }
        // Each of 64 requests goes either way with even odds: both sides are reached but for a 2^-63 chance.
        #expect(Set(harness.upstreams.targets.map(\.host)) == ["10.0.0.1", "10.0.2.1"])
    }

    @Test func aBackendThatNamesNothingAnswers500() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(matches: .http([]), backends: [Self.backend("gone", unresolved: "backend Service demo/gone does not exist")])
                ])))
        let answer = harness.send()
        #expect(answer.status == 500 && answer.proxyError?.hasPrefix("route_unresolved") == true)
        #expect(harness.upstreams.attempts.isEmpty)
    }

    @Test func aMirrorGetsACopyAndTheClientOnlyTheOriginalsAnswer() {
        let harness = ExchangeHarness(script: { _, target in target.endpoint.host == "10.0.2.1" ? .respond(500) : .respond(200) })
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(
                        matches: .http([]), filters: [.requestMirror(Self.backend("web-v2"), percent: 100)], backends: [Self.backend("web")]
                    )
                ])))
        let answer = harness.send("POST", body: [ByteBuffer(string: "payload")])
        #expect(answer.status == 200)
        #expect(Set(harness.upstreams.targets.map(\.host)) == ["10.0.0.1", "10.0.2.1"])
        #expect(harness.upstreams.attempts.allSatisfy { String(buffer: $0.body) == "payload" })
        #expect(harness.metric("outbound_http_route_backend_requests_total", "backend_name=\"web-v2\"") == 0, "a copy is not counted")
    }

    @Test func aMirrorThatNeverAnswersIsGivenUpAfterItsTimeout() {
        let harness = ExchangeHarness(script: { _, target in target.endpoint.host == "10.0.2.1" ? .hang : .respond(200) })
        harness.endpoints(1)
        harness.endpoints(1, service: "web-v2", subnet: 2)
        harness.policy(
            ExchangeHarness.servicePolicy(
                routes: Self.route([
                    RouteRule(
                        matches: .http([]), filters: [.requestMirror(Self.backend("web-v2"), percent: 100)], backends: [Self.backend("web")]
                    )
                ])))
        #expect(harness.send().status == 200, "the original does not wait for its copy")
        let copy = harness.upstreams.attempts.first { $0.target.endpoint.host == "10.0.2.1" }
        #expect(copy?.released == nil)
        harness.advance(.seconds(10))
        #expect(copy?.released == false, "the copy's upstream is closed after the mirror's timeout")
    }
}
