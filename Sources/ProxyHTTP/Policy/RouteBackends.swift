import MeshModel
import ProxyCore

/// The backends of one Service port's routes as one loop uses them: each backend Service's balancer (created on
/// first use, carrying the parent's failure accrual), and the chains mirrors go through. Kept across policy
/// updates, so a backend's endpoint state (EWMA, breakers) survives a route change.
final class RouteBackends {
    /// The parent's discovery key.
    let parentKey: String
    let discovery: (any DestinationLookup)?
    let clusterDomain: String
    /// The proxy's circuit breakers, shared by the loops.
    let board: AccrualBoard
    let shard: MetricsShard
    private var accrual: FailureAccrual?
    private var destinations: [String: LoopDestination] = [:]
    private var mirrors: [String: StageChain] = [:]

    init(parentKey: String, discovery: (any DestinationLookup)?, clusterDomain: String, board: AccrualBoard, shard: MetricsShard) {
        self.parentKey = parentKey
        self.discovery = discovery
        self.clusterDomain = clusterDomain
        self.board = board
        self.shard = shard
    }

    /// A new policy: its failure accrual applies to every backend from now on.
    func update(accrual: FailureAccrual?) {
        self.accrual = accrual
        for (authority, destination) in self.destinations {
            destination.setAccrual(accrual, board: self.board, scope: self.scope(authority))
        }
    }

    /// A backend Service's authority, as discovery is asked about it: the parent's own key when the backend is the
    /// parent (its default rule, most routes' main backend) — one subscription, not two, for one Service — else its
    /// cluster name and port (the parent's port when the reference gives none).
    func authority(of backend: RouteBackend, parent: ServicePolicy) -> String {
        let port = backend.port ?? parent.port
        if backend.name == parent.name, backend.namespace == parent.namespace, port == parent.port { return self.parentKey }
        return "\(backend.name).\(backend.namespace).svc.\(self.clusterDomain):\(port)"
    }

    /// This loop's balancer of a backend, by its authority; `parent` and `backend` name its gauges.
    func destination(_ authority: String, parent: ServicePolicy? = nil, backend: RouteBackend? = nil) -> LoopDestination {
        if let known = self.destinations[authority], !known.entry.isEvicted { return known }
        // Creation is rare: drop what discovery evicted meanwhile.
        self.destinations = self.destinations.filter { !$0.value.entry.isEvicted }
        self.mirrors = self.mirrors.filter { !$0.value.isEvicted }
        let created = LoopDestination(entry: self.discovery?.entry(for: authority) ?? DestinationEntry(authority: authority))
        created.setAccrual(self.accrual, board: self.board, scope: self.scope(authority))
        self.destinations[authority] = created
        if let parent, let backend {
            self.shard.registerBalancer(
                created,
                parent: RouteLabels(
                    family: .http, parentNamespace: parent.namespace, parentName: parent.name, parentPort: parent.port, route: nil),
                backend: BackendLabels(namespace: backend.namespace, name: backend.name, port: backend.port ?? parent.port)
            )
        }
        return created
    }

    /// The chain a mirrored copy goes through: the backend's balancer, no stages (a copy is not counted).
    func mirrorChain(_ backend: RouteBackend, parent: ServicePolicy) -> StageChain {
        let authority = self.authority(of: backend, parent: parent)
        if let known = self.mirrors[authority], !known.isEvicted { return known }
        let chain = StageChain([], balancer: Balancer(.discovered(self.destination(authority), key: authority)))
        self.mirrors[authority] = chain
        return chain
    }

    /// A backend's balancers are the parent's own: their breakers are scoped by both.
    private func scope(_ backend: String) -> String { "\(self.parentKey)>\(backend)" }
}

@available(*, unavailable)
extension RouteBackends: Sendable {}
