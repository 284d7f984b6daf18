import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// Timeouts against scripted upstreams with a manual clock: the request timeout (the whole exchange, retries
/// included), the per-try timeout (retried), the idle timeout — before, during and after the response.
@Suite struct TimeoutStageTests {
    static let second: Int64 = 1_000_000_000

    static func harness(_ script: @escaping ScriptedUpstreams.Script, timeouts: RouteTimeouts, retry: RouteRetry? = nil) -> ExchangeHarness
    {
        let harness = ExchangeHarness(script: script)
        harness.endpoints(2)
        harness.policy(ExchangeHarness.servicePolicy(retry: retry, timeouts: timeouts))
        return harness
    }

    @Test func aRequestTimeoutAnswers504AtItsTimeNotBefore() {
        let harness = Self.harness({ _, _ in .hang }, timeouts: RouteTimeouts(request: 2 * Self.second))
        let downstream = harness.send()
        harness.advance(.milliseconds(1999))
        #expect(downstream.status == nil)
        harness.advance(.milliseconds(1))
        #expect(downstream.status == 504)
        #expect(downstream.proxyError?.hasPrefix("request_timeout") == true)
        #expect(harness.upstreams.attempts[0].released == false, "the hanging upstream is not reused")
    }

    @Test func aResponseFasterThanTheTimeoutGoesThroughAndTheTimerEnds() {
        let harness = Self.harness({ _, _ in .respond(200, after: .milliseconds(500)) }, timeouts: RouteTimeouts(request: Self.second))
        let downstream = harness.send()
        harness.advance(.milliseconds(500))
        #expect(downstream.status == 200 && downstream.finished)
        harness.advance(.seconds(5))
        #expect(downstream.status == 200 && !downstream.aborted)
    }

    @Test func aRequestTimeoutAfterTheResponseBeganCutsTheResponse() {
        let harness = Self.harness({ _, _ in .headThenHang(200) }, timeouts: RouteTimeouts(request: Self.second))
        let downstream = harness.send()
        #expect(downstream.status == 200)
        harness.advance(.seconds(1))
        #expect(downstream.aborted, "too late for an error response: the downstream is cut")
    }

    @Test func aTryThatTimesOutIsRetriedWithinTheRequestTimeout() {
        let harness = Self.harness(
            { attempt, _ in attempt == 1 ? .hang : .respond(200) },
            timeouts: RouteTimeouts(request: 5 * Self.second, backendRequest: Self.second),
            retry: RouteRetry(limit: 1)
        )
        let downstream = harness.send()
        harness.advance(.seconds(1))
        #expect(downstream.status == nil, "the try timed out and the retry waits its backoff")
        harness.advance(.milliseconds(30))
        #expect(downstream.status == 200)
        #expect(harness.upstreams.attempts.count == 2)
    }

    @Test func aTryTimeoutWithoutARetryIs504ResponseTimeout() {
        let harness = Self.harness({ _, _ in .hang }, timeouts: RouteTimeouts(backendRequest: Self.second))
        let downstream = harness.send()
        harness.advance(.seconds(1))
        #expect(downstream.status == 504 && downstream.proxyError?.hasPrefix("response_timeout") == true, "\(downstream.proxyError ?? "")")
    }

    @Test func anIdleTimeoutEndsAnExchangeNothingMovesInButNotOneThatMoves() {
        let hanging = Self.harness({ _, _ in .hang }, timeouts: RouteTimeouts(idle: Self.second))
        let silent = hanging.send()
        hanging.advance(.milliseconds(999))
        #expect(silent.status == nil)
        hanging.advance(.milliseconds(1))
        #expect(silent.status == 504 && silent.proxyError?.hasPrefix("idle_timeout") == true)

        let started = Self.harness({ _, _ in .headThenHang(200) }, timeouts: RouteTimeouts(idle: Self.second))
        let cut = started.send()
        #expect(cut.status == 200)
        started.advance(.seconds(1))
        #expect(cut.aborted, "a response that stopped moving is cut")

        let slow = Self.harness({ _, _ in .respond(200, after: .milliseconds(1500)) }, timeouts: RouteTimeouts(idle: 2 * Self.second))
        let answered = slow.send()
        slow.advance(.milliseconds(1500))
        #expect(answered.status == 200 && !answered.aborted)
    }
}
