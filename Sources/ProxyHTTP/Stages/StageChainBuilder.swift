import MeshModel
import NIOCore
import ProxyCore

/// Builds every chain of the request path, and alone decides its order (DESIGN §3):
///
///     tap → authorization → metrics (inbound: and the server's route) → [outbound] route (match, filters)
///         → [rule] fault → split → timeout → retry
///         → [backend] backend metrics → balancer → endpoint
///
/// A destination's chain ends at the route, which branches to the matched rule's chain; the rule's split branches
/// to the picked backend's chain, whose balancer takes the attempts (the endpoint client opens them). A stage a
/// destination, rule or backend does not use is absent: a Service without routes, timeouts or retries pays for
/// none of them. Tap is outermost (`prepending`): a stage sees only what the stages before it passed, and tap must
/// report what authorization refuses (DESIGN §3 put authorization first). Authorization goes `first`, ahead of
/// metrics; tests put their own stages `first` or `then` (after metrics), one line each.
public struct StageChainBuilder: Sendable {
    /// Stages ahead of all others, per destination.
    let first: @Sendable (StageTarget) -> [any HTTPStage]
    /// Stages after metrics and before the route, per destination.
    let then: @Sendable (StageTarget) -> [any HTTPStage]
    /// How long a request waits for a first answer from the Policy API.
    let policyWait: TimeAmount

    public init(
        first: @escaping @Sendable (StageTarget) -> [any HTTPStage] = { _ in [] },
        then: @escaping @Sendable (StageTarget) -> [any HTTPStage] = { _ in [] }, policyWait: TimeAmount = .seconds(3)
    ) {
        self.first = first
        self.then = then
        self.policyWait = policyWait
    }

    /// What every proxy runs: metrics, and the route for what the controller may have a policy for.
    public static let standard = StageChainBuilder()

    /// The standard stages with `extra` after metrics (what the extra stages answer is counted).
    public static func standard(then extra: @escaping @Sendable (StageTarget) -> [any HTTPStage]) -> StageChainBuilder {
        StageChainBuilder(then: extra)
    }

    /// This builder with `stages` ahead of its own first ones (tap, ahead of whatever a test puts first).
    public func prepending(_ stages: @escaping @Sendable (StageTarget) -> [any HTTPStage]) -> StageChainBuilder {
        let first = self.first
        return StageChainBuilder(first: { stages($0) + first($0) }, then: self.then, policyWait: self.policyWait)
    }

    /// A destination's chain, on the loop that will use it.
    func chain(for target: StageTarget, resources: LoopContext) -> StageChain {
        var stages = self.first(target)
        // Inbound, the server's route series too: the server is the port the connection came to.
        let serverPort = target.direction == .inbound ? HostPort(parsing: Substring(target.name))?.port : nil
        stages.append(MetricsStage(shard: resources.metrics, serverPort: serverPort))
        stages += self.then(target)
        var balancer = Balancer(.resolved)
        if target.discovered, let destination = resources.destination(for: target.name) {
            balancer = Balancer(.discovered(destination, key: target.name))
            // Traffic policy for what discovery knows, outbound (DESIGN §3).
            if target.direction == .outbound, let policies = resources.policies {
                let backends = RouteBackends(
                    parentKey: target.name, discovery: resources.discovery, clusterDomain: resources.clusterDomain,
                    board: resources.accrualBoard,
                    shard: resources.metrics
                )
                stages.append(
                    RouteStage(key: target.name, lookup: policies, waitTimeout: self.policyWait, builder: self, backends: backends))
            }
        }
        return StageChain(stages, balancer: balancer)
    }

    /// A rule's chain: its faults, its response header filters, the split, its timeouts, its retries — each only
    /// if the rule has it. The split branches to a backend's chain: the rule's chain has no balancer.
    func ruleChain(
        _ match: RuleMatch, parent: ServicePolicy, labels: RouteLabels, series: RouteSeries, backends: RouteBackends,
        routeState: StageSlot<RouteState>
    ) -> StageChain {
        let rule = match.rule
        var stages: [any HTTPStage] = []
        let faults = rule.filters.compactMap { filter -> RouteFault? in
            if case .fault(let fault) = filter { return fault }
            return nil
        }
        if !faults.isEmpty { stages.append(FaultStage(faults: faults)) }
        let modifiers = RequestFilters.responseModifiers(rule.filters)
        if !modifiers.isEmpty { stages.append(ResponseHeadersStage(modifiers: modifiers)) }
        stages.append(
            SplitStage(
                rule: rule, split: match.split, parent: parent, labels: labels, builder: self, backends: backends, routeState: routeState)
        )
        var timeouts = rule.timeouts
        if timeouts.backendRequest == nil { timeouts.backendRequest = rule.retry?.timeout }
        if timeouts.request != nil || timeouts.backendRequest != nil || timeouts.idle != nil {
            stages.append(TimeoutStage(timeouts: timeouts))
        }
        if let retry = rule.retry, retry.limit > 0 { stages.append(RetryStage(retry: retry, budget: match.budget, series: series)) }
        return StageChain(stages, balancer: nil, labels: labels.tapLabels)
    }

    /// A backend's chain: its series, its response header filters, and its balancer.
    func backendChain(_ backend: RouteBackend, parent: ServicePolicy, labels: RouteLabels, backends: RouteBackends) -> StageChain {
        let authority = backends.authority(of: backend, parent: parent)
        let backendLabels = BackendLabels(namespace: backend.namespace, name: backend.name, port: backend.port ?? parent.port)
        var stages: [any HTTPStage] = [BackendMetricsStage(series: backends.shard.backendSeries(for: labels, backend: backendLabels))]
        let modifiers = RequestFilters.responseModifiers(backend.filters)
        if !modifiers.isEmpty { stages.append(ResponseHeadersStage(modifiers: modifiers)) }
        let destination = backends.destination(authority, parent: parent, backend: backend)
        let tapLabels = [
            MetricLabel("backend_namespace", backendLabels.namespace), MetricLabel("backend_name", backendLabels.name),
            MetricLabel("backend_port", String(backendLabels.port)),
        ]
        return StageChain(stages, balancer: Balancer(.discovered(destination, key: authority)), labels: tapLabels)
    }
}
