import NIOCore
import ProxyCore

/// Route match, filters and the weighted split (DESIGN §3): the request's Service port's policy picks a rule and one
/// of its backends; the request's head is changed as the rule's filters say, and the exchange goes to the backend's
/// own balancer. Without a policy (the authority is no Service port, or the controller never answered) the request
/// goes on as it came.
///
/// One per destination and loop: its backends' balancers are this loop's, and carry the Service's failure accrual.
final class RouteStage: HTTPStage {
    /// The parent's discovery key, which the Policy API is asked about.
    let key: String
    let lookup: any PolicyLookup
    let discovery: (any DestinationLookup)?
    let clusterDomain: String
    /// How long a request waits for a first answer (the policy's, then its backend's endpoints).
    let waitTimeout: TimeAmount
    /// The proxy's circuit breakers, shared by the loops.
    let board: AccrualBoard
    let shard: MetricsShard
    /// The backends of the policy in force, as this loop uses them: by route, rule and backend index (the default
    /// rule's route is -1, and its gRPC calls count apart). Dropped when the policy changes.
    private var targets: [TargetKey: RoutedBackend] = [:]

    struct TargetKey: Hashable {
        var route: Int
        var rule: Int
        var backend: Int
        var grpc: Bool
    }
    private var entry: PolicyEntry
    private var seenVersion: UInt64 = .max
    private var state: PolicyState = .pending
    /// This loop's balancer of each backend, by authority.
    private var backends: [String: LoopDestination] = [:]
    private var random = SystemRandomNumberGenerator()

    init(
        key: String, lookup: any PolicyLookup, discovery: (any DestinationLookup)?, clusterDomain: String, waitTimeout: TimeAmount,
        board: AccrualBoard, shard: MetricsShard
    ) {
        self.board = board
        self.shard = shard
        self.key = key
        self.lookup = lookup
        self.discovery = discovery
        self.clusterDomain = clusterDomain
        self.waitTimeout = waitTimeout
        self.entry = lookup.policy(for: key)
    }

    func request(_ exchange: Exchange) -> StageDecision {
        let now = exchange.eventLoop.now.uptimeNanoseconds
        if let routed = exchange.routed, let waiting = routed.waiting {
            return self.resume(exchange, routed, waiting, now: now)
        }
        self.refresh(now: now)
        switch self.state {
        case .none:
            return .proceed
        case .pending:
            let routed = RoutedExchange()
            exchange.routed = routed
            self.wait(.policy, exchange, routed, now: now)
            return .suspend
        case .policy(let compiled):
            return self.route(exchange, compiled, now: now)
        }
    }

    func endpointChosen(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {
        guard let routed = exchange.routed, let target = routed.target else { return }
        target.backendSeries.recordRequest()
        routed.backendSeries = target.backendSeries
    }

    func finished(_ exchange: Exchange) {
        guard let routed = exchange.routed, let series = routed.series else { return }
        let outcome: RouteOutcome
        if let error = exchange.localError {
            outcome = RouteOutcome(status: nil, grpcStatus: nil, error: error.code.label)
        } else if exchange.responseStatus > 0 {
            outcome = RouteOutcome(status: exchange.responseStatus, grpcStatus: exchange.grpcStatus, error: nil)
        } else {
            outcome = RouteOutcome(status: nil, grpcStatus: nil, error: "cancelled")
        }
        series.record(outcome, seconds: Double(exchange.elapsedNanoseconds) / 1e9)
        if routed.retries > 0, outcome.error == nil, !Exchange.isFailure(status: outcome.status ?? 0, grpcStatus: outcome.grpcStatus),
            outcome.grpcStatus ?? 0 == 0
        {
            series.recordRetrySuccess()
        }
    }

    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
        guard let target = exchange.routed?.target, !target.responseModifiers.isEmpty else { return .pass }
        for modifier in target.responseModifiers { modifier.apply(to: &head.fields) }
        return .pass
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
        self.targets = [:]
        if case .policy(let compiled) = self.state {
            for (authority, backend) in self.backends {
                backend.setAccrual(compiled.policy.accrual, board: self.board, scope: self.scope(authority))
            }
        }
    }

    /// The exchange was suspended: what it waited for is in, or its time is up.
    private func resume(_ exchange: Exchange, _ routed: RoutedExchange, _ waiting: (wait: RoutedExchange.Wait, deadline: UInt64), now: UInt64) -> StageDecision {
        switch waiting.wait {
        case .policy:
            self.refresh(now: now)
            switch self.state {
            case .pending:
                if now < waiting.deadline { return .suspend }
                // No answer in time: routed as without a policy.
                routed.waiting = nil
                exchange.routed = nil
                return .proceed
            case .none:
                routed.waiting = nil
                exchange.routed = nil
                return .proceed
            case .policy(let compiled):
                routed.waiting = nil
                exchange.routed = nil
                return self.route(exchange, compiled, now: now)
            }
        case .backend:
            exchange.destination?.refresh(now: now)
            if exchange.destination?.state == .pending, now < waiting.deadline { return .suspend }
            routed.waiting = nil
            return self.afterBackend(exchange, routed, now: now)
        case .delay:
            if now < waiting.deadline { return .suspend }
            routed.waiting = nil
            return .proceed
        }
    }

    private func route(_ exchange: Exchange, _ compiled: CompiledPolicy, now: UInt64) -> StageDecision {
        let routed = RoutedExchange()
        exchange.routed = routed
        switch compiled.decide(exchange.request, using: &self.random) {
        case .forward(let plan):
            let target = self.target(for: plan, exchange, compiled)
            routed.target = target
            routed.series = target.series
            routed.delay = plan.delay
            target.series.recordRequest()
            if target.changesRequests {
                routed.matchedPrefix = plan.matchedPrefix
                self.applyRequestFilters(target.filters, plan.matchedPrefix, to: exchange)
                self.startMirrors(target.filters, exchange, compiled.policy)
            }
            target.destination.use(now: now)
            exchange.destination = target.destination
            exchange.destinationKey = target.authority
            if target.destination.state == .pending {
                self.wait(.backend, exchange, routed, now: now)
                return .suspend
            }
            return self.afterBackend(exchange, routed, now: now)
        case .redirect(let redirect, let matchedPrefix, let route):
            routed.series = self.series(exchange, compiled.policy, route)
            routed.series?.recordRequest()
            let host = exchange.request.authority.map { String(RouteRequest.host(of: $0)) } ?? compiled.policy.name
            let location = redirect.location(
                scheme: exchange.request.scheme ?? "http", host: host, port: Self.port(of: exchange.request.authority) ?? 80,
                target: exchange.request.path, matchedPrefix: matchedPrefix
            )
            var fields = HTTPFields()
            fields.add("location", location)
            fields.add("content-length", "0")
            return .respond(HTTPResponseHead(status: redirect.statusCode, fields: fields), body: nil)
        case .abort(let status, let grpcStatus, let route):
            routed.series = self.series(exchange, compiled.policy, route)
            routed.series?.recordRequest()
            if exchange.isGRPC {
                exchange.grpcStatus = grpcStatus ?? Self.grpcStatus(forHTTP: status)
                var fields = HTTPFields()
                fields.add("content-type", "application/grpc")
                fields.add("grpc-status", String(exchange.grpcStatus!))
                fields.add("grpc-message", "fault injected")
                return .respond(HTTPResponseHead(status: 200, fields: fields), body: nil)
            }
            let body = ByteBuffer(string: "fault injected\n")
            var fields = HTTPFields()
            fields.add("content-type", "text/plain; charset=utf-8")
            fields.add("content-length", String(body.readableBytes))
            return .respond(HTTPResponseHead(status: status, fields: fields), body: body)
        case .fail(_, let reason, let route):
            routed.series = self.series(exchange, compiled.policy, route)
            routed.series?.recordRequest()
            return .fail(ProxyError(.routeUnresolved, reason))
        case .noMatch:
            let parent = compiled.policy
            return .fail(ProxyError(.routeNotFound, "no rule of the routes attached to \(parent.namespace)/\(parent.name):\(parent.port) matches the request"))
        }
    }

    /// The rule's backend as this loop uses it: found by its indices, built on first use after a policy update.
    private func target(for plan: RoutePlan, _ exchange: Exchange, _ compiled: CompiledPolicy) -> RoutedBackend {
        let key = TargetKey(
            route: plan.routeIndex ?? -1, rule: plan.ruleIndex ?? 0, backend: plan.backendIndex, grpc: plan.route == nil && exchange.isGRPC
        )
        if let known = self.targets[key], !known.destination.entry.isEvicted { return known }
        let parent = compiled.policy
        let authority = self.authority(of: plan.backend, parent: parent)
        let labels = Self.labels(exchange, parent, plan.route)
        let backendLabels = BackendLabels(namespace: plan.backend.namespace, name: plan.backend.name, port: plan.backend.port ?? parent.port)
        let target = RoutedBackend(
            authority: authority, destination: self.backend(authority, accrual: parent.accrual, parent: parent, backend: plan.backend),
            series: self.shard.routeSeries(for: labels), backendSeries: self.shard.backendSeries(for: labels, backend: backendLabels), plan: plan
        )
        self.targets[key] = target
        return target
    }

    /// The series of a request the route answers itself (a redirect, a fault, a failure).
    private func series(_ exchange: Exchange, _ parent: ServicePolicy, _ route: Route?) -> RouteSeries {
        self.shard.routeSeries(for: Self.labels(exchange, parent, route))
    }

    /// A route's labels (or the parent's default route's): gRPC calls count in the `grpc` families.
    static func labels(_ exchange: Exchange, _ parent: ServicePolicy, _ route: Route?) -> RouteLabels {
        let family: RouteLabels.Family = route.map { $0.kind == .grpc ? .grpc : .http } ?? (exchange.isGRPC ? .grpc : .http)
        return RouteLabels(
            family: family, parentNamespace: parent.namespace, parentName: parent.name, parentPort: parent.port,
            route: route.map { RouteLabels.RouteName(kind: $0.kind, namespace: $0.namespace, name: $0.name) }
        )
    }

    /// The backend's endpoints are known (or its wait ran out): an injected delay, if any, then on.
    private func afterBackend(_ exchange: Exchange, _ routed: RoutedExchange, now: UInt64) -> StageDecision {
        guard let delay = routed.delay, delay > 0 else { return .proceed }
        routed.delay = nil
        routed.waiting = (.delay, now &+ UInt64(delay))
        exchange.schedule(after: .nanoseconds(delay)) { $0.resumeStages() }
        return .suspend
    }

    /// Suspends the exchange until the policy (or the backend's endpoints) first answers, or the wait runs out.
    private func wait(_ wait: RoutedExchange.Wait, _ exchange: Exchange, _ routed: RoutedExchange, now: UInt64) {
        routed.waiting = (wait, now &+ UInt64(self.waitTimeout.nanoseconds))
        let loop = exchange.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: loop)
        let resume: @Sendable () -> Void = { loop.execute { bound.value.resumeStages() } }
        switch wait {
        case .policy: self.entry.whenAnswered(resume)
        case .backend: exchange.destination?.entry.whenAnswered(resume)
        case .delay: break
        }
        exchange.schedule(after: self.waitTimeout) { $0.resumeStages() }
    }

    /// RequestMirror filters: each takes its percentage of requests, a copy to its backend.
    private func startMirrors(_ filters: [RouteFilter], _ exchange: Exchange, _ parent: ServicePolicy) {
        for case .requestMirror(let backend, let percent) in filters where backend.unresolved == nil {
            guard percent >= 100 || Double.random(in: 0..<100, using: &self.random) < percent else { continue }
            let authority = self.authority(of: backend, parent: parent)
            exchange.startMirror(to: self.backend(authority, accrual: parent.accrual), key: authority)
        }
    }

    /// The rule's filters, then the backend's, that change the request.
    private func applyRequestFilters(_ filters: [RouteFilter], _ matchedPrefix: String?, to exchange: Exchange) {
        for filter in filters {
            switch filter {
            case .requestHeaderModifier(let modifier): modifier.apply(to: &exchange.request.fields)
            case .urlRewrite(let rewrite): rewrite.apply(to: &exchange.request, matchedPrefix: matchedPrefix)
            default: continue
            }
        }
    }

    /// A backend Service's authority, as discovery is asked about it: the parent's own key when the backend is the
    /// parent (its default rule, most routes' main backend) — one subscription, not two, for one Service — else its
    /// cluster name and port (the parent's port when the reference gives none).
    func authority(of backend: RouteBackend, parent: ServicePolicy) -> String {
        let port = backend.port ?? parent.port
        if backend.name == parent.name, backend.namespace == parent.namespace, port == parent.port { return self.key }
        return "\(backend.name).\(backend.namespace).svc.\(self.clusterDomain):\(port)"
    }

    private func backend(_ authority: String, accrual: FailureAccrual?, parent: ServicePolicy? = nil, backend: RouteBackend? = nil) -> LoopDestination {
        if let known = self.backends[authority], !known.entry.isEvicted { return known }
        self.backends = self.backends.filter { !$0.value.entry.isEvicted }
        let created = LoopDestination(entry: self.discovery?.entry(for: authority) ?? DestinationEntry(authority: authority))
        created.setAccrual(accrual, board: self.board, scope: self.scope(authority))
        self.backends[authority] = created
        if let parent = parent, let backend = backend {
            self.shard.registerBalancer(
                created,
                parent: RouteLabels(family: .http, parentNamespace: parent.namespace, parentName: parent.name, parentPort: parent.port, route: nil),
                backend: BackendLabels(namespace: backend.namespace, name: backend.name, port: backend.port ?? parent.port)
            )
        }
        return created
    }

    /// A backend's balancers are the parent's own: their breakers are scoped by both.
    private func scope(_ backend: String) -> String { "\(self.key)>\(backend)" }

    static func port(of authority: String?) -> Int? {
        guard let authority, let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") else { return nil }
        return Int(authority[authority.index(after: colon)...])
    }

    /// gRPC's mapping of an HTTP status, for a fault that gives no gRPC status.
    static func grpcStatus(forHTTP status: Int) -> Int {
        switch status {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
    }
}

@available(*, unavailable)
extension RouteStage: Sendable {}
