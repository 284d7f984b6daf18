import MeshModel
import NIOCore
import ProxyCore

/// The route (DESIGN §3): the Service port's policy picks the rule a request goes by, the rule's filters change the
/// request or answer it (a redirect), and the request goes on through the rule's own chain (its fault, split,
/// timeouts, retries; `StageChainBuilder.ruleChain`). The route's series count every request it takes. Without a
/// policy (the authority is no Service port, or the controller never answered) the request goes on as it came.
///
/// One per destination and loop; a rule's chain is built on first use after a policy update.
final class RouteStage: HTTPStage {
    var answerKind: String { "redirect" }
    /// The parent's discovery key, which the Policy API is asked about.
    let key: String
    let lookup: any PolicyLookup
    /// How long a request waits for the policy's first answer.
    let waitTimeout: TimeAmount
    let builder: StageChainBuilder
    let backends: RouteBackends
    /// This stage's per-exchange state: the route's series, the matched prefix, a wait.
    let slot = StageSlot<RouteState>()
    private var entry: PolicyEntry
    private var seenVersion: UInt64 = .max
    private var state: PolicyState = .pending
    /// The chains of the policy in force, by route, rule, and whether a default-route request is a gRPC call
    /// (those count apart). Dropped when the policy changes.
    private var rules: [RuleKey: RuleBranch] = [:]
    private var random = SystemRandomNumberGenerator()

    struct RuleKey: Hashable {
        var route: Int
        var rule: Int
        var grpc: Bool
    }

    struct RuleBranch {
        let series: RouteSeries
        let chain: StageChain
        /// The rule's filters that change the request (header modifiers, rewrites, mirrors).
        let requestFilters: [RouteFilter]
    }

    init(key: String, lookup: any PolicyLookup, waitTimeout: TimeAmount, builder: StageChainBuilder, backends: RouteBackends) {
        self.key = key
        self.lookup = lookup
        self.waitTimeout = waitTimeout
        self.builder = builder
        self.backends = backends
        self.entry = lookup.policy(for: key)
    }

    func request(_ exchange: Exchange) -> StageDecision {
        let now = exchange.now
        self.refresh(now: now.uptimeNanoseconds)
        switch self.state {
        case .none:
            return .proceed
        case .pending:
            return self.wait(exchange, now: now)
        case .policy(let compiled):
            return self.route(exchange, compiled)
        }
    }

    func finished(_ exchange: Exchange) {
        guard let series = exchange.slots[self.slot]?.series else { return }
        series.record(RouteStage.outcome(of: exchange), seconds: Double(exchange.elapsedNanoseconds) / 1e9)
    }

    /// How an exchange ended, for a route's series: its error, its response, or cancelled.
    static func outcome(of exchange: Exchange) -> RouteOutcome {
        if let error = exchange.localError { return RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label) }
        if exchange.responseStatus > 0 { return RouteOutcome(status: exchange.responseStatus, grpcStatus: exchange.grpcStatus, error: nil) }
        return RouteOutcome(status: nil, grpcStatus: nil, error: "cancelled")
    }

    /// Takes in what the Policy API published since the last request (an atomic load when nothing changed); an
    /// entry the client stopped following is asked for again.
    private func refresh(now: UInt64) {
        if self.entry.isEvicted {
            self.entry = self.lookup.policy(for: self.key)
            self.seenVersion = .max
        }
        self.entry.touch(now: now)
        let version = self.entry.version
        guard version != self.seenVersion else { return }
        self.seenVersion = version
        self.state = self.entry.current
        self.rules = [:]
        if case .policy(let compiled) = self.state { self.backends.update(accrual: compiled.policy.accrual) }
    }

    /// No answer from the Policy API yet: the request waits for it, up to the timeout; then it goes as without a
    /// policy.
    private func wait(_ exchange: Exchange, now: NIODeadline) -> StageDecision {
        if let deadline = exchange.slots[self.slot]?.waitingUntil {
            return now < deadline ? .suspend(until: deadline) : .proceed
        }
        let deadline = now + self.waitTimeout
        exchange.slots[self.slot] = RouteState(waitingUntil: deadline)
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        self.entry.whenAnswered { loop.execute { bound.value.resumeStages() } }
        return .suspend(until: deadline)
    }

    private func route(_ exchange: Exchange, _ compiled: CompiledPolicy) -> StageDecision {
        guard let match = compiled.rule(for: exchange.request) else {
            let parent = compiled.policy
            return .fail(
                ProxyError(
                    .routeNotFound,
                    "no rule of the routes attached to \(parent.namespace)/\(parent.name):\(parent.port) matches the request"))
        }
        let branch = self.branch(for: match, exchange, compiled.policy)
        branch.series.recordRequest()
        exchange.slots[self.slot] = RouteState(series: branch.series, matchedPrefix: match.matchedPrefix)
        switch match.answer {
        case .redirect(let redirect)?:
            let host = exchange.request.authority.map { String(RouteRequest.host(of: $0)) } ?? compiled.policy.name
            let location = redirect.location(
                scheme: exchange.request.scheme ?? "http", host: host, port: Self.port(of: exchange.request.authority) ?? 80,
                target: exchange.request.path, matchedPrefix: match.matchedPrefix
            )
            var fields = HTTPFields()
            fields.add("location", location)
            fields.add("content-length", "0")
            return .respond(HTTPResponseHead(status: redirect.statusCode, fields: fields), body: nil)
        case .fail(let reason)?:
            return .fail(ProxyError(.routeUnresolved, reason))
        case nil:
            break
        }
        if !branch.requestFilters.isEmpty {
            RequestFilters.apply(
                branch.requestFilters, matchedPrefix: match.matchedPrefix, to: exchange, parent: compiled.policy, backends: self.backends)
        }
        return .branch(branch.chain)
    }

    /// The rule's chain and series, built on first use after a policy update.
    private func branch(for match: RuleMatch, _ exchange: Exchange, _ parent: ServicePolicy) -> RuleBranch {
        let key = RuleKey(route: match.routeIndex ?? -1, rule: match.ruleIndex ?? 0, grpc: match.route == nil && exchange.isGRPC)
        if let known = self.rules[key] { return known }
        let labels = RouteLabels(
            family: match.route.map { $0.kind == .grpc ? .grpc : .http } ?? (key.grpc ? .grpc : .http), parentNamespace: parent.namespace,
            parentName: parent.name, parentPort: parent.port,
            route: match.route.map { RouteLabels.RouteName(kind: $0.kind, namespace: $0.namespace, name: $0.name) }
        )
        let series = self.backends.shard.routeSeries(for: labels)
        let chain = self.builder.ruleChain(
            match, parent: parent, labels: labels, series: series, backends: self.backends, routeState: self.slot
        )
        let branch = RuleBranch(series: series, chain: chain, requestFilters: RequestFilters.changingRequests(match.rule.filters))
        self.rules[key] = branch
        return branch
    }

    static func port(of authority: String?) -> Int? {
        guard let authority, let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") else { return nil }
        return Int(authority[authority.index(after: colon)...])
    }
}

@available(*, unavailable)
extension RouteStage: Sendable {}
