import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The balancer and the endpoint client against scripted upstreams: the first request's wait for discovery,
/// failure accrual with its probation, and failures before and after the response began.
@Suite struct BalancerTests {
    @Test func theFirstRequestWaitsForDiscoverysFirstAnswer() {
        let harness = ExchangeHarness()
        let waiting = harness.send()
        #expect(waiting.status == nil && harness.upstreams.attempts.isEmpty)
        harness.endpoints(2)
        harness.run()
        #expect(waiting.status == 200)
        #expect(harness.upstreams.targets.allSatisfy { $0.host.hasPrefix("10.0.0.") })
    }

    @Test func withoutAnAnswerInTimeTheRequestGoesByItsName() {
        let harness = ExchangeHarness()
        let waiting = harness.send()
        harness.advance(.seconds(3))
        #expect(waiting.status == 200)
        #expect(harness.upstreams.targets == [HostPort(host: "web.demo.svc.cluster.local", port: 8080)])
    }

    @Test func aServiceWithoutEndpointsIs503() {
        let harness = ExchangeHarness()
        harness.discovery.entry(for: ExchangeHarness.authority).publish(.noEndpoints(exists: true))
        let answer = harness.send()
        #expect(answer.status == 503 && answer.proxyError?.hasPrefix("no_endpoints") == true)
    }

    @Test func anEndpointFailingInARowIsEjectedThenGetsOneRequestOnProbation() {
        let failing = ExchangeHarness(script: { _, _ in .respond(503) })
        failing.endpoints(1)
        failing.policy(
            ExchangeHarness.servicePolicy(
                accrual: FailureAccrual(maxFailures: 3, minPenalty: 1_000_000_000, maxPenalty: 4_000_000_000, jitterRatio: 0)))
        for _ in 0..<3 { #expect(failing.send().status == 503) }
        let ejected = failing.send()
        #expect(ejected.status == 503 && ejected.proxyError?.hasPrefix("circuit_open") == true, "\(ejected.proxyError ?? "")")
        #expect(failing.upstreams.attempts.count == 3, "nothing is sent while it is ejected")
        failing.advance(.seconds(1))
        #expect(failing.send().status == 503, "after the penalty, one request on probation")
        #expect(failing.upstreams.attempts.count == 4)
        #expect(failing.send().proxyError?.hasPrefix("circuit_open") == true, "a failed probation ejects it again")
    }

    @Test func aSuccessfulProbationRestoresTheEndpoint() {
        let harness = ExchangeHarness(script: { attempt, _ in attempt <= 2 ? .respond(500) : .respond(200) })
        harness.endpoints(1)
        harness.policy(
            ExchangeHarness.servicePolicy(
                accrual: FailureAccrual(maxFailures: 2, minPenalty: 1_000_000_000, maxPenalty: 4_000_000_000, jitterRatio: 0)))
        for _ in 0..<2 { harness.send() }
        #expect(harness.send().proxyError?.hasPrefix("circuit_open") == true)
        harness.advance(.seconds(1))
        #expect(harness.send().status == 200, "probation")
        for _ in 0..<3 { #expect(harness.send().status == 200, "back in the rotation") }
    }

    @Test func aResetBeforeTheResponseIs502AndAfterItCutsTheDownstream() {
        let before = ExchangeHarness(script: { _, _ in .fail(.connectionReset) })
        before.endpoints(1)
        let refused = before.send()
        #expect(refused.status == 502 && refused.proxyError?.hasPrefix("connection_reset") == true)

        let after = ExchangeHarness(script: { _, _ in .headThenReset(200) })
        after.endpoints(1)
        let cut = after.send()
        #expect(cut.status == 200 && cut.aborted, "the head went out: the client sees the response cut")
        #expect(cut.finished)
    }
}
