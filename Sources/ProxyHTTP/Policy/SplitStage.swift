import MeshModel
import ProxyCore

/// The weighted split of a rule's backends (a canary, a blue-green move): each request goes to one backend, through
/// that backend's chain (its series, its filters, its balancer; `StageChainBuilder.backendChain`), built on first
/// use. A backend that names nothing answers its share with 500, as the Gateway API asks.
final class SplitStage: HTTPStage {
    let rule: RouteRule
    let split: WeightedSplit
    let parent: ServicePolicy
    let labels: RouteLabels
    let builder: StageChainBuilder
    let backends: RouteBackends
    /// The route stage's state: the prefix its rule matched, for a backend's rewrite.
    let routeState: StageSlot<RouteState>
    private var chains: [Int: (chain: StageChain, requestFilters: [RouteFilter])] = [:]
    private var random = SystemRandomNumberGenerator()

    init(
        rule: RouteRule, split: WeightedSplit, parent: ServicePolicy, labels: RouteLabels, builder: StageChainBuilder,
        backends: RouteBackends,
        routeState: StageSlot<RouteState>
    ) {
        self.rule = rule
        self.split = split
        self.parent = parent
        self.labels = labels
        self.builder = builder
        self.backends = backends
        self.routeState = routeState
    }

    func request(_ exchange: Exchange) -> StageDecision {
        let index: Int
        switch RuleMatch.backend(of: self.rule, split: self.split, using: &self.random) {
        case .success(let picked): index = picked
        case .failure(let failure): return .fail(ProxyError(.routeUnresolved, failure.reason))
        }
        let backend = self.backend(index)
        if !backend.requestFilters.isEmpty {
            RequestFilters.apply(
                backend.requestFilters, matchedPrefix: exchange.slots[self.routeState]?.matchedPrefix, to: exchange, parent: self.parent,
                backends: self.backends
            )
        }
        return .branch(backend.chain)
    }

    private func backend(_ index: Int) -> (chain: StageChain, requestFilters: [RouteFilter]) {
        if let known = self.chains[index], !known.chain.isEvicted { return known }
        let backend = self.rule.backends[index]
        let built = (
            chain: self.builder.backendChain(backend, parent: self.parent, labels: self.labels, backends: self.backends),
            requestFilters: RequestFilters.changingRequests(backend.filters)
        )
        self.chains[index] = built
        return built
    }
}

@available(*, unavailable)
extension SplitStage: Sendable {}
