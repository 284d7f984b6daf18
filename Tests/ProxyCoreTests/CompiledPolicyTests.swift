import ProxyCore
import Testing

/// The route stage's decision for each request, from a Service port's policy, with seeded draws.
@Suite struct CompiledPolicyTests {
    static func backend(_ name: String, _ weight: Int, unresolved: String? = nil) -> RouteBackend {
        RouteBackend(namespace: "emojivoto", name: name, port: 8080, weight: weight, unresolved: unresolved)
    }

    static func policy(_ rules: [RouteRule]) -> CompiledPolicy {
        CompiledPolicy(ServicePolicy(namespace: "emojivoto", name: "voting", port: 8080, routes: [Route(kind: .http, namespace: "emojivoto", name: "r", rules: rules)]))
    }

    static func request(_ target: String, method: String = "GET") -> RouteRequest {
        RouteRequest(method: method, authority: "voting.emojivoto.svc.cluster.local:8080", target: target)
    }

    /// Decides `count` times; returns how often each outcome came.
    static func tally(_ policy: CompiledPolicy, _ target: String, count: Int, seed: UInt64) -> [String: Int] {
        var random = SplitMix64(state: seed)
        var outcomes: [String: Int] = [:]
        for _ in 0..<count {
            let key: String
            switch policy.decide(Self.request(target), using: &random) {
            case .forward(let plan): key = plan.backend.name + (plan.delay.map { " +\($0)" } ?? "")
            case .redirect(let redirect, _, _): key = "redirect \(redirect.statusCode)"
            case .abort(let status, _, _): key = "abort \(status)"
            case .fail(let status, _, _): key = "fail \(status)"
            case .noMatch: key = "no match"
            }
            outcomes[key, default: 0] += 1
        }
        return outcomes
    }

    /// The Gateway API: once routes are attached to a port, a request none of their rules matches is answered 404;
    /// only a port without routes sends everything to the Service itself.
    @Test func aRequestNoAttachedRouteMatchesIsNotFoundAndAPortWithoutRoutesGoesToTheService() {
        let policy = Self.policy([RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/api"))]), backends: [Self.backend("api", 1)])])
        #expect(Self.tally(policy, "/other", count: 10, seed: 1) == ["no match": 10])
        #expect(Self.tally(policy, "/api/x", count: 10, seed: 1) == ["api": 10])
        let bare = CompiledPolicy(ServicePolicy(namespace: "emojivoto", name: "voting", port: 8080))
        #expect(Self.tally(bare, "/other", count: 10, seed: 1) == ["voting": 10])
    }

    @Test func aPortsBudgetSettingsReachItsRoutes() {
        let settings = RetryBudget.Settings(ratio: 0, perSecond: 1, window: 1)
        let policy = CompiledPolicy(ServicePolicy(
            namespace: "emojivoto", name: "voting", port: 8080, routes: [Route(kind: .http, namespace: "emojivoto", name: "r", rules: [RouteRule(matches: .http([]), backends: [Self.backend("voting", 1)])])],
            budget: settings
        ))
        var random = SplitMix64(state: 9)
        guard case .forward(let plan) = policy.decide(Self.request("/"), using: &random) else {
            Issue.record("not forwarded")
            return
        }
        // One retry a second over a one-second window and no share of requests: a second retry in that second is refused.
        #expect(plan.budget.tryWithdraw(now: 5_000_000_000))
        #expect(!plan.budget.tryWithdraw(now: 5_500_000_000))
    }

    @Test func aCanarySplitHoldsItsWeights() {
        let policy = Self.policy([RouteRule(matches: .http([]), backends: [Self.backend("voting", 90), Self.backend("voting-v2", 10)])])
        let outcomes = Self.tally(policy, "/", count: 20_000, seed: 2)
        #expect(abs(Double(outcomes["voting-v2", default: 0]) / 20_000 - 0.10) < 0.01)
        let moved = Self.policy([RouteRule(matches: .http([]), backends: [Self.backend("voting", 0), Self.backend("voting-v2", 100)])])
        #expect(Self.tally(moved, "/", count: 1000, seed: 3) == ["voting-v2": 1000], "weight 0 gets nothing")
    }

    @Test func aBackendThatNamesNothingAnswersItsShareWith500() {
        let policy = Self.policy([
            RouteRule(matches: .http([]), backends: [Self.backend("voting", 1), Self.backend("gone", 1, unresolved: "backend Service emojivoto/gone does not exist")])
        ])
        let outcomes = Self.tally(policy, "/", count: 10_000, seed: 4)
        #expect(abs(Double(outcomes["fail 500", default: 0]) / 10_000 - 0.5) < 0.02)
        #expect(outcomes.keys.sorted() == ["fail 500", "voting"])
        let empty = Self.policy([RouteRule(matches: .http([]), backends: [])])
        #expect(Self.tally(empty, "/", count: 10, seed: 5) == ["fail 500": 10], "a rule without backends")
        let unknownFilter = Self.policy([RouteRule(matches: .http([]), filters: [.extensionRef(group: "policy.swiftlet.io", kind: "FaultInjection", name: "x")], backends: [Self.backend("voting", 1)])])
        #expect(Self.tally(unknownFilter, "/", count: 10, seed: 6) == ["fail 500": 10], "a filter that names nothing is never skipped")
    }

    @Test func faultsAbortAndDelayTheirShares() {
        let fault = RouteFault(abortPercent: 10, abortStatus: 503, delayPercent: 20, delay: 200_000_000)
        let policy = Self.policy([RouteRule(matches: .http([]), filters: [.fault(fault)], backends: [Self.backend("voting", 1)])])
        let outcomes = Self.tally(policy, "/", count: 20_000, seed: 7)
        #expect(abs(Double(outcomes["abort 503", default: 0]) / 20_000 - 0.10) < 0.01)
        // Of the requests not aborted, a fifth is delayed.
        #expect(abs(Double(outcomes["voting +200000000", default: 0]) / 20_000 - 0.18) < 0.01)
    }

    @Test func aRedirectRuleAnswersAndTheMatchedPrefixIsKnown() throws {
        let policy = Self.policy([
            RouteRule(matches: .http([HTTPRouteMatch(path: .prefix("/old"))]), filters: [.requestRedirect(.init(path: .replacePrefixMatch("/new"), statusCode: 301))])
        ])
        var random = SplitMix64(state: 8)
        guard case .redirect(let redirect, let prefix, let route) = policy.decide(Self.request("/old/page"), using: &random) else {
            Issue.record("not a redirect")
            return
        }
        #expect(redirect.statusCode == 301 && prefix == "/old" && route?.name == "r")
        #expect(redirect.location(scheme: "http", host: "voting", port: 8080, target: "/old/page", matchedPrefix: prefix) == "http://voting:8080/new/page")
    }
}
