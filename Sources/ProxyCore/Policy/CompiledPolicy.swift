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

    /// Where a request goes, or what it is answered. The request is only taken apart when there are routes to match:
    /// a Service without routes (most of them) costs its default rule and nothing more.
    public func decide(_ head: HTTPRequestHead, using random: inout some RandomNumberGenerator) -> RouteDecision {
        guard !self.table.routes.isEmpty else { return self.decide(nil, using: &random) }
        guard let selection = self.table.select(RouteRequest(head)) else { return .noMatch }
        return self.decide(selection, using: &random)
    }

    /// Where a request goes, or what it is answered.
    public func decide(_ request: RouteRequest, using random: inout some RandomNumberGenerator) -> RouteDecision {
        guard !self.table.routes.isEmpty else { return self.decide(nil, using: &random) }
        guard let selection = self.table.select(request) else { return .noMatch }
        return self.decide(selection, using: &random)
    }

    /// `selection` nil: the Service's default rule, which serves only a port without routes. Once routes are
    /// attached, a request none of them matches is not the Service's to take (the Gateway API: 404).
    private func decide(_ selection: RouteTable.Selection?, using random: inout some RandomNumberGenerator) -> RouteDecision {
        let rule = selection?.rule ?? self.policy.defaultRule
        let split = selection.map { self.splits[$0.routeIndex][$0.ruleIndex] } ?? self.defaultSplit
        var delay: Int64? = nil
        for filter in rule.filters {
            switch filter {
            case .requestRedirect(let redirect):
                return .redirect(redirect, matchedPrefix: selection?.matchedPrefix, route: selection?.route)
            case .extensionRef(let group, let kind, let name):
                return .fail(status: 500, reason: "filter \(group)/\(kind)/\(name) names nothing", route: selection?.route)
            case .fault(let fault):
                if fault.abortPercent > 0, Double.random(in: 0..<100, using: &random) < fault.abortPercent {
                    return .abort(status: fault.abortStatus, grpcStatus: fault.abortGRPCStatus, route: selection?.route)
                }
                if fault.delayPercent > 0, fault.delay > 0, Double.random(in: 0..<100, using: &random) < fault.delayPercent {
                    delay = fault.delay
                }
            default:
                continue
            }
        }
        guard let index = split.pick(using: &random) else {
            return .fail(status: 500, reason: "the rule has no backend with a weight", route: selection?.route)
        }
        let backend = rule.backends[index]
        if let reason = backend.unresolved { return .fail(status: 500, reason: reason, route: selection?.route) }
        return .forward(
            RoutePlan(
                route: selection?.route, routeIndex: selection?.routeIndex, ruleIndex: selection?.ruleIndex, rule: rule, backend: backend,
                backendIndex: index, matchedPrefix: selection?.matchedPrefix, delay: delay,
                budget: selection.map { self.budgets[$0.routeIndex] } ?? self.defaultBudget
            )
        )
    }
}

/// The route stage's decision for one request.
public enum RouteDecision: Sendable {
    case forward(RoutePlan)
    /// A `RequestRedirect` rule: answered with its status and `Location`.
    case redirect(RouteFilter.Redirect, matchedPrefix: String?, route: Route?)
    /// Injected by a `FaultInjection`: HTTP `status`, or for gRPC calls `grpcStatus` when given.
    case abort(status: Int, grpcStatus: Int?, route: Route?)
    /// The route cannot serve this request (Gateway API: 500): a backend that names nothing, no weighted backend,
    /// a filter that names nothing.
    case fail(status: Int, reason: String, route: Route?)
    /// Routes are attached to the port and none of their rules matches: HTTP 404 (the Gateway API's
    /// `HTTPRouteRule.matches`), UNIMPLEMENTED for a gRPC call (as gRPC maps 404).
    case noMatch
}

/// Where a request goes and how: the rule (its filters, timeouts, retry) and the backend the split picked.
public struct RoutePlan: Sendable {
    /// `nil` for the Service's default rule.
    public var route: Route?
    /// The route's place in the table, and the rule's in the route (`nil` for the default rule).
    public var routeIndex: Int?
    public var ruleIndex: Int?
    public var rule: RouteRule
    public var backend: RouteBackend
    /// The backend's place in the rule.
    public var backendIndex: Int
    public var matchedPrefix: String?
    /// An injected delay before the request goes on (nanoseconds).
    public var delay: Int64?
    /// The route's retry budget.
    public var budget: SharedRetryBudget
}
