import MeshModel

/// A Service port's policy made ready for requests: the route table built, a weighted split per rule. Built once per
/// policy update and shared by every loop (a class: a request takes one reference, not a copy of every table);
/// `decide` is the route stage's whole decision, a pure function of the request and the random draws.
public final class CompiledPolicy: Sendable {
    public let policy: ServicePolicy
    public let table: RouteTable
    /// Per route (by its place in `table.routes`), per rule.
    private let splits: [[WeightedSplit]]
    private let defaultSplit: WeightedSplit
    /// Per route (by its place in `table.routes`): the route's retry budget, shared by its rules and every loop.
    private let budgets: [SharedRetryBudget]
    private let defaultBudget: SharedRetryBudget

    public init(_ policy: ServicePolicy) {
        self.policy = policy
        let budget = policy.budget ?? RetryBudget.Settings()
        self.table = RouteTable(policy.routes)
        self.splits = self.table.routes.map { route in route.rules.map { WeightedSplit(weights: $0.backends.map(\.weight)) } }
        self.defaultSplit = WeightedSplit(weights: policy.defaultRule.backends.map(\.weight))
        self.budgets = self.table.routes.map { _ in SharedRetryBudget(budget) }
        self.defaultBudget = SharedRetryBudget(budget)
    }

    /// The rule a request goes by: the first of the attached routes' rules it matches, or the Service's default
    /// rule on a port without routes; `nil` when routes are attached and none matches (the Gateway API's 404). The
    /// request is only taken apart when there are routes to match: a Service without routes (most of them) costs
    /// its default rule and nothing more.
    public func rule(for head: HTTPRequestHead) -> RuleMatch? {
        guard !self.table.routes.isEmpty else { return self.defaultMatch }
        return self.table.select(RouteRequest(head)).map(self.match)
    }

    public func rule(for request: RouteRequest) -> RuleMatch? {
        guard !self.table.routes.isEmpty else { return self.defaultMatch }
        return self.table.select(request).map(self.match)
    }

    private var defaultMatch: RuleMatch {
        RuleMatch(
            route: nil, routeIndex: nil, ruleIndex: nil, rule: self.policy.defaultRule, matchedPrefix: nil, split: self.defaultSplit,
            budget: self.defaultBudget)
    }

    private func match(_ selection: RouteTable.Selection) -> RuleMatch {
        RuleMatch(
            route: selection.route, routeIndex: selection.routeIndex, ruleIndex: selection.ruleIndex, rule: selection.rule,
            matchedPrefix: selection.matchedPrefix, split: self.splits[selection.routeIndex][selection.ruleIndex],
            budget: self.budgets[selection.routeIndex]
        )
    }
}

/// The rule a request matched, with what the stages after the match need of it: the matched prefix (for
/// `ReplacePrefixMatch`), the rule's weighted split and its route's retry budget.
public struct RuleMatch: Sendable {
    /// `nil` for the Service's default rule.
    public var route: Route?
    /// The route's place in the table, and the rule's in the route (`nil` for the default rule).
    public var routeIndex: Int?
    public var ruleIndex: Int?
    public var rule: RouteRule
    public var matchedPrefix: String?
    public var split: WeightedSplit
    public var budget: SharedRetryBudget

    /// What the rule's filters answer the request with instead of sending it on: a `RequestRedirect`, or a failure
    /// for a filter that names nothing (never skipped). `nil` when the request goes on.
    public var answer: RuleAnswer? {
        for filter in self.rule.filters {
            switch filter {
            case .requestRedirect(let redirect): return .redirect(redirect)
            case .extensionRef(let group, let kind, let name): return .fail(reason: "filter \(group)/\(kind)/\(name) names nothing")
            default: continue
            }
        }
        return nil
    }

    /// The backend the split picks: its place in the rule, or why the rule cannot send the request anywhere (no
    /// backend with a weight, a backend that names nothing — the Gateway API answers both with 500).
    public func backend(using random: inout some RandomNumberGenerator) -> Result<Int, RuleFailure> {
        Self.backend(of: self.rule, split: self.split, using: &random)
    }

    /// `rule`'s backend by `split` (the rule's weights).
    public static func backend(of rule: RouteRule, split: WeightedSplit, using random: inout some RandomNumberGenerator) -> Result<
        Int, RuleFailure
    > {
        guard let index = split.pick(using: &random) else { return .failure(RuleFailure(reason: "the rule has no backend with a weight")) }
        if let reason = rule.backends[index].unresolved { return .failure(RuleFailure(reason: reason)) }
        return .success(index)
    }
}

/// A rule's filters answer the request.
public enum RuleAnswer: Sendable {
    case redirect(RouteFilter.Redirect)
    case fail(reason: String)
}

/// Why a rule cannot send a request to a backend.
public struct RuleFailure: Error, Sendable {
    public var reason: String
}
