import MeshModel
import ProxyCore
import Testing

/// The retry budget, backoff, failure accrual and weighted split, driven by a manual clock (nanoseconds) and a
/// seeded generator (the same draws every run).
@Suite struct TrafficPolicyMachinesTests {
    static let second: Int64 = 1_000_000_000

    @Test func theBudgetAllowsTwentyPercentOfRequestsPlusTenASecondOverItsWindowThenRefillsAsTheWindowMoves() {
        var budget = RetryBudget()
        for _ in 0..<1000 { budget.recordRequest(now: 0) }
        var granted = 0
        while budget.tryWithdraw(now: Self.second / 2) { granted += 1 }
        #expect(granted == 300, "0.2 × 1000 requests + 10 a second × the 10 s window, there from the start")
        // Nothing more while those retries are in the window.
        let more = budget.tryWithdraw(now: 9 * Self.second + Self.second / 2)
        #expect(!more)
        // Once those requests and retries have left the 10 s window, the minimum is there again.
        var refilled = 0
        while budget.tryWithdraw(now: 20 * Self.second) { refilled += 1 }
        #expect(refilled == 100)
    }

    @Test func aRouteWithFewRequestsGetsItsRetriesEvenInABurst() {
        // The Gateway API's retry conformance: a few requests back to back, each needing up to three retries.
        var budget = RetryBudget()
        var refused = 0
        for request in 0..<30 {
            let now = Int64(request) * Self.second / 20
            budget.recordRequest(now: now)
            for _ in 0..<3 where !budget.tryWithdraw(now: now) { refused += 1 }
        }
        #expect(refused == 0)
    }

    @Test func withEveryTryFailingRetriesAddAtMostTheBudgetToTheLoad() {
        // 20 s at 200 requests a second, every try failing, three retries allowed per request.
        var budget = RetryBudget()
        var requests = 0, attempts = 0
        for tick in 0..<(20 * 200) {
            let now = Int64(tick) * Self.second / 200
            budget.recordRequest(now: now)
            requests += 1
            attempts += 1
            for _ in 0..<3 {
                guard budget.tryWithdraw(now: now) else { break }
                attempts += 1
            }
        }
        #expect(Double(attempts) <= 1.2 * Double(requests) + 10 * 10 * 2, "the 20 s hold two windows' minimum")
        #expect(Double(attempts) > 1.1 * Double(requests), "the budget is used, not refused outright")
    }

    @Test func backoffDoublesFromTwentyFiveMillisecondsToAQuarterSecondWithFullJitter() {
        let backoff = RetryBackoff()
        #expect((1...6).map { backoff.ceiling(attempt: $0) } == [25, 50, 100, 200, 250, 250].map { Int64($0) * 1_000_000 })
        #expect(backoff.ceiling(attempt: 1000) == 250_000_000, "no overflow for long runs of retries")
        var random = SplitMix64(state: 1)
        let delays = (0..<10_000).map { _ in backoff.delay(attempt: 3, using: &random) }
        #expect(delays.allSatisfy { (0...100_000_000).contains($0) })
        #expect(delays.min()! < 5_000_000 && delays.max()! > 95_000_000, "anywhere from zero to the bound")
        #expect(RetryBackoff(base: 0).delay(attempt: 1, using: &random) == 0)
    }

    @Test func anEndpointIsEjectedAfterConsecutiveFailuresAndComesBackThroughProbation() {
        var random = SplitMix64(state: 2)
        var endpoint = EndpointAccrual(FailureAccrual(maxFailures: 7, minPenalty: Self.second, maxPenalty: 4 * Self.second, jitterRatio: 0))
        for _ in 0..<6 {
            let ejected = endpoint.failed(now: 0, using: &random)
            #expect(!ejected)
        }
        endpoint.succeeded()  // a success in between resets the count
        for _ in 0..<6 { endpoint.failed(now: 0, using: &random) }
        let available2 = endpoint.isAvailable(now: 0)
        #expect(available2)
        let ejected3 = endpoint.failed(now: 0, using: &random)
        #expect(ejected3, "the seventh failure in a row ejects")
        let available4 = endpoint.isAvailable(now: Self.second - 1)
        #expect(!available4)
        // The penalty is over: one request on probation, no second one while it is out.
        let available5 = endpoint.isAvailable(now: Self.second)
        #expect(available5)
        endpoint.dispatched()
        let available6 = endpoint.isAvailable(now: Self.second)
        #expect(!available6)
        // It fails: ejected again for twice as long, then four times, then the maximum.
        endpoint.failed(now: Self.second, using: &random)
        #expect(endpoint.state == .ejected(until: 3 * Self.second))
        let available7 = endpoint.isAvailable(now: 3 * Self.second)
        #expect(available7)
        endpoint.dispatched()
        endpoint.failed(now: 3 * Self.second, using: &random)
        #expect(endpoint.state == .ejected(until: 7 * Self.second))
        let available8 = endpoint.isAvailable(now: 7 * Self.second)
        #expect(available8)
        endpoint.failed(now: 7 * Self.second, using: &random)
        #expect(endpoint.state == .ejected(until: 11 * Self.second), "capped at the maximum penalty")
        // Success on probation: healthy, and the next ejection starts from the minimum again.
        let available9 = endpoint.isAvailable(now: 11 * Self.second)
        #expect(available9)
        endpoint.dispatched()
        endpoint.succeeded()
        #expect(endpoint.state == .healthy(consecutiveFailures: 0))
        for _ in 0..<7 { endpoint.failed(now: 20 * Self.second, using: &random) }
        #expect(endpoint.state == .ejected(until: 21 * Self.second))
    }

    @Test func penaltiesAreSpreadByTheJitterRatio() {
        var random = SplitMix64(state: 3)
        var penalties: [Int64] = []
        for _ in 0..<2000 {
            var endpoint = EndpointAccrual(FailureAccrual(maxFailures: 1, minPenalty: Self.second, jitterRatio: 0.5))
            endpoint.failed(now: 0, using: &random)
            guard case .ejected(let until) = endpoint.state else { Issue.record("not ejected"); return }
            penalties.append(until)
        }
        #expect(penalties.allSatisfy { (Self.second / 2...3 * Self.second / 2).contains($0) })
        #expect(penalties.min()! < 6 * Self.second / 10 && penalties.max()! > 14 * Self.second / 10)
    }

    @Test func aSplitHoldsItsProportionsAndWeightZeroGetsNothing() {
        var random = SplitMix64(state: 4)
        let split = WeightedSplit(weights: [90, 10])
        var counts = [0, 0]
        for _ in 0..<100_000 { counts[split.pick(using: &random)!] += 1 }
        #expect(abs(Double(counts[1]) / 100_000 - 0.10) < 0.01)
        let canary = WeightedSplit(weights: [0, 5, 0])
        #expect((0..<100).allSatisfy { _ in canary.pick(using: &random) == 1 })
        #expect(WeightedSplit(weights: [0, 0]).pick(using: &random) == nil)
        let three = WeightedSplit(weights: [1, 2, 1])
        var thirds = [0, 0, 0]
        for _ in 0..<40_000 { thirds[three.pick(using: &random)!] += 1 }
        #expect(abs(Double(thirds[1]) / 40_000 - 0.5) < 0.02 && abs(Double(thirds[0]) / 40_000 - 0.25) < 0.02)
    }
}

/// Failure accrual as the loops' balancers share it.
@Suite struct SharedAccrualTests {
    static let second: Int64 = 1_000_000_000

    func endpoint(_ port: Int) -> DiscoveredEndpoint {
        DiscoveredEndpoint(address: HostPort(host: "10.0.0.1", port: port), weight: 1, identity: nil, protocolHint: .unknown, labels: [])
    }

    @Test func twoLoopsBalancersShareOneBreakerPerEndpointAndAllEjectedIsSaid() {
        let board = AccrualBoard()
        let settings = FailureAccrual(maxFailures: 4, minPenalty: 10 * Self.second, jitterRatio: 0)
        var loopA = P2CBalancer(random: SplitMix64(state: 1))
        var loopB = P2CBalancer(random: SplitMix64(state: 2))
        for balancer in [0, 1] {
            if balancer == 0 {
                loopA.update([self.endpoint(1)], now: 0)
                loopA.setAccrual(settings, board: board, scope: "web>web")
            } else {
                loopB.setAccrual(settings, board: board, scope: "web>web")
                loopB.update([self.endpoint(1)], now: 0)
            }
        }
        // Two failures seen by each loop: four in a row for the endpoint.
        for _ in 0..<2 {
            guard case .endpoint(let a) = loopA.pickAvailable(now: 1), case .endpoint(let b) = loopB.pickAvailable(now: 1) else {
                Issue.record("expected the endpoint")
                return
            }
            a.recordOutcome(failed: true, now: 1)
            b.recordOutcome(failed: true, now: 1)
        }
        guard case .allEjected = loopA.pickAvailable(now: 2), case .allEjected = loopB.pickAvailable(now: 2) else {
            Issue.record("expected the endpoint ejected for both loops")
            return
        }
        // After the penalty one loop takes the probation request; the other waits for its outcome.
        guard case .endpoint(let probe) = loopA.pickAvailable(now: UInt64(10 * Self.second + 2)) else {
            Issue.record("expected probation")
            return
        }
        guard case .allEjected = loopB.pickAvailable(now: UInt64(10 * Self.second + 3)) else {
            Issue.record("one request at a time on probation")
            return
        }
        probe.recordOutcome(failed: false, now: 10 * Self.second + 4)
        guard case .endpoint = loopB.pickAvailable(now: UInt64(10 * Self.second + 5)) else {
            Issue.record("expected the endpoint back")
            return
        }
    }

    @Test func aRetryAvoidsTheEndpointThatFailedWhenThereIsAnother() {
        var balancer = P2CBalancer(random: SplitMix64(state: 3))
        balancer.update([self.endpoint(1), self.endpoint(2)], now: 0)
        for _ in 0..<100 {
            guard case .endpoint(let load) = balancer.pickAvailable(now: 1, avoiding: HostPort(host: "10.0.0.1", port: 1)) else {
                Issue.record("expected an endpoint")
                return
            }
            #expect(load.endpoint.address.port == 2)
        }
        var single = P2CBalancer(random: SplitMix64(state: 4))
        single.update([self.endpoint(1)], now: 0)
        guard case .endpoint(let only) = single.pickAvailable(now: 1, avoiding: HostPort(host: "10.0.0.1", port: 1)) else {
            Issue.record("the only endpoint is still used")
            return
        }
        #expect(only.endpoint.address.port == 1)
    }
}
