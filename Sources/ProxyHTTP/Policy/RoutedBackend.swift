import ProxyCore

/// One backend of one rule as a loop uses it, worked out once per policy update: its balancer, its metric series,
/// and the rule's timeouts, retry and filters. A request that the rule takes finds all of it in one look-up.
final class RoutedBackend {
    /// The backend's discovery key.
    let authority: String
    let destination: LoopDestination
    let series: RouteSeries
    let backendSeries: RouteSeries
    let timeouts: RouteTimeouts
    let retry: RouteRetry?
    let budget: SharedRetryBudget
    /// The rule's filters, then the backend's.
    let filters: [RouteFilter]
    /// Whether any filter changes requests (header modifiers, rewrites, mirrors), and the response header modifiers.
    let changesRequests: Bool
    let responseModifiers: [RouteFilter.HeaderModifier]

    init(authority: String, destination: LoopDestination, series: RouteSeries, backendSeries: RouteSeries, plan: RoutePlan) {
        self.authority = authority
        self.destination = destination
        self.series = series
        self.backendSeries = backendSeries
        self.timeouts = plan.rule.timeouts
        self.retry = plan.rule.retry
        self.budget = plan.budget
        self.filters = plan.rule.filters + plan.backend.filters
        self.changesRequests = self.filters.contains { filter in
            switch filter {
            case .requestHeaderModifier, .urlRewrite, .requestMirror: return true
            default: return false
            }
        }
        self.responseModifiers = self.filters.compactMap { filter in
            if case .responseHeaderModifier(let modifier) = filter { return modifier }
            return nil
        }
    }
}

@available(*, unavailable)
extension RoutedBackend: Sendable {}
