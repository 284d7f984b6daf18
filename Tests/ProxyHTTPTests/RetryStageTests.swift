import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The retry stage against scripted upstreams with a manual clock (linkerd2-proxy's `http/logical/tests/retries.rs`
/// in spirit): which responses and failures are retried, how often, where to, after what backoff, and when not.
@Suite struct RetryStageTests {
    static func harness(
        _ script: @escaping ScriptedUpstreams.Script, retry: RouteRetry?, endpoints: Int = 2, budget: RetryBudget.Settings? = nil
    ) -> ExchangeHarness {
        let harness = ExchangeHarness(script: script)
        harness.endpoints(endpoints)
        harness.policy(ExchangeHarness.servicePolicy(retry: retry, budget: budget))
        return harness
    }

    @Test func aRetriedStatusIsTriedAgainOnAnotherEndpointAfterItsBackoffAndTheSuccessIsAnswered() {
        let harness = Self.harness(
            { attempt, _ in attempt == 1 ? .respond(503) : .respond(200) }, retry: RouteRetry(statuses: [503...503], limit: 2))
        let downstream = harness.send()
        #expect(downstream.status == nil, "the retry waits for its backoff")
        harness.advance(.milliseconds(30))  // the first backoff is at most 25 ms
        #expect(downstream.status == 200)
        #expect(harness.upstreams.attempts.count == 2)
        #expect(harness.upstreams.targets[0] != harness.upstreams.targets[1], "the retry avoids the endpoint that failed")
        #expect(harness.metric("outbound_http_route_retry_requests_total") == 1)
        #expect(harness.metric("outbound_http_route_retry_successes_total") == 1)
    }

    @Test func aStatusNotListedIsNotRetried() {
        let harness = Self.harness({ _, _ in .respond(500) }, retry: RouteRetry(statuses: [503...503], limit: 2))
        let downstream = harness.send()
        harness.advance(.seconds(1))
        #expect(downstream.status == 500 && harness.upstreams.attempts.count == 1)
    }

    @Test func theLimitBoundsTheTriesAndTheLastAnswerIsTheClients() {
        let harness = Self.harness({ _, _ in .respond(503) }, retry: RouteRetry(statuses: [500...599], limit: 3))
        let downstream = harness.send()
        for _ in 0..<10 { harness.advance(.milliseconds(300)) }
        #expect(downstream.status == 503)
        #expect(harness.upstreams.attempts.count == 4, "one try and three retries")
        #expect(harness.metric("outbound_http_route_retry_limit_exceeded_total") == 1)
    }

    @Test func aTrailersOnlyGRPCStatusIsRetriedByItsCode() {
        let harness = ExchangeHarness(
            script: { attempt, _ in attempt == 1 ? .respond(200, grpcStatus: 14) : .respond(200, grpcStatus: 0) }, http2: true)
        harness.endpoints(2)
        harness.policy(ExchangeHarness.servicePolicy(retry: RouteRetry(grpcCodes: [14], limit: 1)))
        let downstream = harness.send("POST", "/test.Echo/Unary", fields: [("content-type", "application/grpc")])
        harness.advance(.milliseconds(30))
        #expect(downstream.head?.fields.first("grpc-status") == "0")
        #expect(harness.upstreams.attempts.count == 2)
    }

    @Test func aConnectionFailureIsRetriedAndOnceTheRetriesAreSpentItIs503() {
        let succeeding = Self.harness(
            { attempt, _ in attempt == 1 ? .fail(.connectionRefused) : .respond(200) }, retry: RouteRetry(limit: 1))
        let first = succeeding.send()
        succeeding.advance(.milliseconds(30))
        #expect(first.status == 200 && succeeding.upstreams.attempts.count == 2)

        let failing = Self.harness({ _, _ in .fail(.connectionReset) }, retry: RouteRetry(limit: 2))
        let second = failing.send()
        for _ in 0..<5 { failing.advance(.milliseconds(300)) }
        #expect(second.status == 503)
        #expect(second.proxyError?.hasPrefix("retries_exhausted: connection_reset") == true, "\(second.proxyError ?? "")")
        // Without a retry policy the same failure stays a 502.
        let plain = Self.harness({ _, _ in .fail(.connectionReset) }, retry: nil)
        #expect(plain.send().status == 502)
    }

    @Test func theBudgetRefusesRetriesOnceSpentAndTheFailureGoesThrough() {
        // No share of requests, one retry a second over a one-second window.
        let harness = Self.harness(
            { _, _ in .respond(503) }, retry: RouteRetry(statuses: [503...503], limit: 5),
            budget: RetryBudget.Settings(ratio: 0, perSecond: 1, window: 1))
        let downstream = harness.send()
        for _ in 0..<5 { harness.advance(.milliseconds(100)) }
        #expect(downstream.status == 503)
        #expect(harness.upstreams.attempts.count == 2, "the one retry the budget held")
        #expect(harness.metric("outbound_http_route_retry_overflow_total") == 1)
    }

    @Test func aBodyIsReplayedWholeAndOneTooLargeToKeepIsNeverRetried() {
        let harness = Self.harness(
            { attempt, _ in attempt == 1 ? .respond(503) : .respond(200) }, retry: RouteRetry(statuses: [503...503], limit: 1))
        let small = harness.send("POST", body: [ByteBuffer(string: "hello "), ByteBuffer(string: "world")])
        harness.advance(.milliseconds(30))
        #expect(small.status == 200)
        #expect(harness.upstreams.attempts.map { String(buffer: $0.body) } == ["hello world", "hello world"])

        let large = Self.harness(
            { attempt, _ in attempt == 1 ? .respond(503) : .respond(200) }, retry: RouteRetry(statuses: [503...503], limit: 1))
        let answer = large.send("POST", body: [ByteBuffer(repeating: 0x61, count: 40_000), ByteBuffer(repeating: 0x62, count: 40_000)])
        large.advance(.milliseconds(300))
        #expect(answer.status == 503, "80 KB is more than a retry keeps")
        #expect(large.upstreams.attempts.count == 1)
        #expect(large.metric("outbound_http_route_retry_unreplayable_total") == 1)
    }

    @Test func theBackoffGrowsWithEachRetryWithinItsBounds() {
        var times: [Int64] = []
        let harness = ExchangeHarness(script: { _, _ in .respond(503) })
        harness.endpoints(1)
        harness.policy(ExchangeHarness.servicePolicy(retry: RouteRetry(statuses: [503...503], limit: 4)))
        let downstream = harness.send()
        times.append(harness.loop.now.uptimeNanoseconds.toInt)
        var seen = 1
        // Step a millisecond at a time: each retry leaves within its ceiling (25, 50, 100, 200 ms).
        for _ in 0..<1000 where downstream.status == nil {
            harness.advance(.milliseconds(1))
            // Full jitter can make a backoff shorter than the step: two attempts in one step are two gaps (one of 0).
            while harness.upstreams.attempts.count > seen {
                seen += 1
                times.append(harness.loop.now.uptimeNanoseconds.toInt)
            }
        }
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1) / 1_000_000 }
        #expect(gaps.count == 4)
        for (gap, ceiling) in zip(gaps, [25, 50, 100, 200]) { #expect(gap <= ceiling + 1, "\(gaps)") }
    }
}

extension UInt64 {
    var toInt: Int64 { Int64(truncatingIfNeeded: self) }
}
