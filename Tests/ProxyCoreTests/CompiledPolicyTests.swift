import MeshModel
import ProxyCore
import Testing

/// What the route stages decide of each request from a Service port's policy, as pure functions with seeded draws:
/// the rule matched (or 404), what its filters answer, the fault's draw, the split's backend — in the stages' order.
@Suite struct CompiledPolicyTests {
    static func backend(_ name: String, _ weight: Int, unresolved: String? = nil) -> RouteBackend {
        RouteBackend(namespace: "emojivoto", name: name, port: 8080, weight: weight, unresolved: unresolved)
    }

    static func policy(_ rules: [RouteRule]) -> CompiledPolicy {
        CompiledPolicy(
            ServicePolicy(
                namespace: "emojivoto", name: "voting", port: 8080,
                routes: [Route(kind: .http, namespace: "emojivoto", name: "r", rules: rules)]))
    }

    static func request(_ target: String, method: String = "GET") -> RouteRequest {
        RouteRequest(method: method, authority: "voting.emojivoto.svc.cluster.local:8080", target: target)
    }

    /// Decides `count` times; returns how often each outcome came.
    static func tally(_ policy: CompiledPolicy, _ target: String, count: Int, seed: UInt64) -> [String: Int] {
        var random = SplitMix64(state: seed)
        var outcomes: [String: Int] = [:]
        for _ in 0..<count {
            outcomes[Self.decide(policy, target, using: &random), default: 0] += 1
        }
        return outcomes
    }

    /// One request through the route (match, filters), the fault and the split.
    static func decide(_ policy: CompiledPolicy, _ target: String, using random: inout SplitMix64) -> String {
        guard let match = policy.rule(for: Self.request(target)) else { return "no match" }
        switch match.answer {
        case .redirect(let redirect)?: return "redirect \(redirect.statusCode)"
        case .fail?: return "fail 500"
        case nil: break
        }
        var delay = ""
        for case .fault(let fault) in match.rule.filters {
            switch fault.draw(using: &random) {
            case .abort(let status, _): return "abort \(status)"
            case .delay(let nanoseconds): delay = " +\(nanoseconds)"
            case .none: break
            }
        }
        switch match.backend(using: &random) {
        case .success(let index): return match.rule.backends[index].name + delay
        case .failure: return "fail 500"
        }
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
        let policy = CompiledPolicy(
            ServicePolicy(
                namespace: "emojivoto", name: "voting", port: 8080,
                routes: [
                    Route(
                        kind: .http, namespace: "emojivoto", name: "r",
                        rules: [RouteRule(matches: .http([]), backends: [Self.backend("voting", 1)])])
                ],
                budget: settings
            ))
        guard let match = policy.rule(for: Self.request("/")) else {
            Issue.record("not matched")
            return
        }
        // One retry a second over a one-second window and no share of requests: a second retry in that second is refused.
        #expect(match.budget.tryWithdraw(now: 5_000_000_000))
        #expect(!match.budget.tryWithdraw(now: 5_500_000_000))
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
            RouteRule(
                matches: .http([]),
                backends: [Self.backend("voting", 1), Self.backend("gone", 1, unresolved: "backend Service emojivoto/gone does not exist")])
        ])
        let outcomes = Self.tally(policy, "/", count: 10_000, seed: 4)
        #expect(abs(Double(outcomes["fail 500", default: 0]) / 10_000 - 0.5) < 0.02)
        #expect(outcomes.keys.sorted() == ["fail 500", "voting"])
        let empty = Self.policy([RouteRule(matches: .http([]), backends: [])])
        #expect(Self.tally(empty, "/", count: 10, seed: 5) == ["fail 500": 10], "a rule without backends")
        let unknownFilter = Self.policy([
            RouteRule(
                matches: .http([]), filters: [.extensionRef(group: "policy.swiftlet.io", kind: "FaultInjection", name: "x")],
                backends: [Self.backend("voting", 1)])
        ])
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
            RouteRule(
                matches: .http([HTTPRouteMatch(path: .prefix("/old"))]),
                filters: [.requestRedirect(.init(path: .replacePrefixMatch("/new"), statusCode: 301))])
        ])
        guard let match = policy.rule(for: Self.request("/old/page")), case .redirect(let redirect)? = match.answer else {
            Issue.record("not a redirect")
            return
        }
        let prefix = match.matchedPrefix
        #expect(redirect.statusCode == 301 && prefix == "/old" && match.route?.name == "r")
        #expect(
            redirect.location(scheme: "http", host: "voting", port: 8080, target: "/old/page", matchedPrefix: prefix)
                == "http://voting:8080/new/page")
    }
}
