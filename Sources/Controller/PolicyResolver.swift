import MeshModel

/// Works out, from a snapshot, the policy a proxy gets for a Service port, and what in the routes cannot be used.
///
/// Precedence of settings, most specific first: a rule's own `timeouts` and `retry`; the route's annotations
/// (folded into its rules when the route was read); the Service's annotations. References are resolved here: a
/// backend that names no Service (or a port the Service lacks) keeps a reason, and its share of requests is
/// answered with 500 by the proxy; an `ExtensionRef` to one of our `FaultInjection`s becomes the fault itself.
public enum PolicyResolver {
    /// `nil` when the authority is not a Service port (the proxy then forwards as it always did).
    ///
    /// `clientNamespace` is the namespace of the proxy asking: the Gateway API's mesh profile (GEP-1294) scopes a
    /// *consumer* route (one in another namespace than its parent Service) to clients of its own namespace, where it
    /// takes the place of the Service's own *producer* routes; producer routes serve every other client. nil: the
    /// Service's own namespace (what tools see).
    public static func policy(for authority: DestinationAuthority, clientNamespace: String? = nil, in snapshot: ClusterSnapshot)
        -> ServicePolicy?
    {
        guard authority.workloadAddress == nil, let service = snapshot.services[authority.service],
            service.ports.contains(where: { $0.port == authority.port })
        else { return nil }
        let attached = snapshot.routes.values
            .filter { spec in spec.parents.contains { $0.service == service.key && ($0.port == nil || $0.port == authority.port) } }
        let client = clientNamespace ?? service.key.namespace
        let consumer = client == service.key.namespace ? [] : attached.filter { $0.key.namespace == client }
        let scoped = (consumer.isEmpty ? attached.filter { $0.key.namespace == service.key.namespace } : consumer).sorted {
            $0.objectID < $1.objectID
        }
        let routes = scoped.map { spec in
            var route = spec.route
            // GEP-1294: a Service-parented route's `hostnames` mean nothing in the mesh (the Service is the match).
            route.hostnames = []
            route.rules = route.rules.map { Self.resolve($0, namespace: spec.key.namespace, service: service, in: snapshot) }
            return route
        }
        let defaultRule = RouteRule(
            matches: .http([]), backends: [RouteBackend(namespace: service.key.namespace, name: service.key.name, port: authority.port)],
            timeouts: service.timeouts, retry: service.retry
        )
        return ServicePolicy(
            namespace: service.key.namespace, name: service.key.name, port: authority.port, routes: routes, defaultRule: defaultRule,
            accrual: service.accrual, budget: Self.budget(for: service, in: snapshot)
        )
    }

    /// An XBackendTrafficPolicy targeting the Service (the first by name, when several do), else its annotations'.
    static func budget(for service: ServiceSpec, in snapshot: ClusterSnapshot) -> RetryBudget.Settings? {
        let targeting = snapshot.backendTrafficPolicies.values
            .filter { $0.key.namespace == service.key.namespace && $0.budget != nil && $0.services.contains(service.key.name) }
            .min { $0.key.name < $1.key.name }
        return targeting?.budget ?? service.budget
    }

    private static func resolve(_ rule: RouteRule, namespace: String, service: ServiceSpec, in snapshot: ClusterSnapshot) -> RouteRule {
        var rule = rule
        if rule.retry == nil { rule.retry = service.retry }
        rule.timeouts = RouteTimeouts(
            request: rule.timeouts.request ?? service.timeouts.request,
            backendRequest: rule.timeouts.backendRequest ?? service.timeouts.backendRequest,
            idle: rule.timeouts.idle ?? service.timeouts.idle
        )
        rule.backends = rule.backends.map { Self.resolve($0, namespace: namespace, in: snapshot) }
        rule.filters = rule.filters.map { Self.resolve($0, namespace: namespace, in: snapshot) }
        return rule
    }

    private static func resolve(_ backend: RouteBackend, namespace: String, in snapshot: ClusterSnapshot) -> RouteBackend {
        var backend = backend
        backend.filters = backend.filters.map { Self.resolve($0, namespace: namespace, in: snapshot) }
        guard backend.unresolved == nil else { return backend }
        let key = ObjectKey(namespace: backend.namespace, name: backend.name)
        guard let target = snapshot.services[key] else {
            backend.unresolved = "backend Service \(key) does not exist"
            return backend
        }
        if let port = backend.port, !target.ports.contains(where: { $0.port == port }) {
            backend.unresolved = "backend Service \(key) has no port \(port)"
        }
        return backend
    }

    private static func resolve(_ filter: RouteFilter, namespace: String, in snapshot: ClusterSnapshot) -> RouteFilter {
        switch filter {
        case .extensionRef(let group, let kind, let name) where group == "policy.swiftlet.io" && kind == "FaultInjection":
            guard let fault = snapshot.faultInjections[ObjectKey(namespace: namespace, name: name)] else { return filter }
            return .fault(fault.fault)
        case .requestMirror(let backend, let percent):
            return .requestMirror(Self.resolve(backend, namespace: namespace, in: snapshot), percent: percent)
        default:
            return filter
        }
    }

    /// What users must hear about the routes of a snapshot, each at its file and line: routes attached to no
    /// Service, parents and backends that do not exist, filters that name nothing, HTTPRoutes pushed out by a
    /// GRPCRoute on the same Service (GEP-1426). The routes keep working as far as they can.
    public static func problems(in snapshot: ClusterSnapshot) -> [ManifestError] {
        var problems: [ManifestError] = []
        let grpcParents = Set(snapshot.routes.values.filter { $0.kind == .grpc }.flatMap { $0.parents.map(\.service) })
        for spec in snapshot.routes.values.sorted(by: { $0.objectID < $1.objectID }) {
            func report(_ line: Int?, _ message: String) {
                problems.append(ManifestError(.unresolved, file: spec.file, line: line ?? spec.line, "\(spec.objectID): \(message)"))
            }
            if spec.parents.isEmpty {
                report(
                    nil,
                    "no parentRef is a Service, so the mesh does not use it"
                        + (spec.otherParents.isEmpty ? "" : " (it names \(spec.otherParents.joined(separator: ", ")))"))
            }
            for parent in spec.parents {
                guard let service = snapshot.services[parent.service] else {
                    report(nil, "parent Service \(parent.service) does not exist")
                    continue
                }
                if let port = parent.port, !service.ports.contains(where: { $0.port == port }) {
                    report(nil, "parent Service \(parent.service) has no port \(port)")
                }
                if spec.kind == .http, grpcParents.contains(parent.service) {
                    report(nil, "ignored on Service \(parent.service): a GRPCRoute is attached there too, and wins (GEP-1426)")
                }
            }
            let service = spec.parents.lazy.compactMap { snapshot.services[$0.service] }.first
            for rule in spec.route.rules {
                // Backends are checked whether or not the parent exists: a missing backend is said as a missing parent
                // is, not only once the parent appears.
                var resolved = rule
                if let service {
                    resolved = Self.resolve(rule, namespace: spec.key.namespace, service: service, in: snapshot)
                } else {
                    resolved.backends = rule.backends.map { Self.resolve($0, namespace: spec.key.namespace, in: snapshot) }
                    resolved.filters = rule.filters.map { Self.resolve($0, namespace: spec.key.namespace, in: snapshot) }
                }
                for backend in resolved.backends + resolved.filters.compactMap(\.mirrorBackend) {
                    if let reason = backend.unresolved {
                        report(spec.backendLines[backend.reference], "\(reason); its share of requests is answered with 500")
                    }
                }
                for filter in resolved.filters {
                    if case .extensionRef(let group, let kind, let name) = filter {
                        report(nil, "filter \(kind) \(name) (\(group)) names nothing; the rule's requests are answered with 500")
                    }
                }
            }
        }
        return problems
    }
}

extension RouteFilter {
    var mirrorBackend: RouteBackend? {
        if case .requestMirror(let backend, _) = self { return backend }
        return nil
    }
}
