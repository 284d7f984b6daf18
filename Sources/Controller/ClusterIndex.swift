import MeshModel
import Synchronization

/// The mesh's view of the cluster, and the subscriptions of everyone watching a destination.
///
/// Sources `apply` whole snapshots; the index finds which services and workloads changed, recomputes only the
/// destinations they touch, and yields a new `DestinationResolution` to each watcher whose answer changed. Watch
/// streams keep only the newest state: a slow watcher skips intermediate states, it never holds the index up.
public final class ClusterIndex: Sendable {
    public let identity: MeshIdentity
    public let clusterDomain: String
    private let state: Mutex<State>

    /// Where a Service's endpoints come from: its selector over the workloads (local mode), or its EndpointSlices
    /// (Kubernetes, where the endpoints controller has chosen them and judged their readiness).
    public enum EndpointSource: Sendable { case selectors, endpointSlices }

    private struct State {
        var snapshot = ClusterSnapshot()
        var endpointSource: EndpointSource
        /// Service → its EndpointSlices.
        var slicesByService: [ObjectKey: Set<ObjectKey>] = [:]
        /// namespace → `key=value` → workloads carrying that label.
        var labelIndex: [String: [String: Set<ObjectKey>]] = [:]
        var watchers: [DestinationAuthority: [UInt64: @Sendable (DestinationResolution) -> Void]] = [:]
        var lastSent: [DestinationAuthority: DestinationResolution] = [:]
        var policyWatchers: [PolicyKey: [UInt64: @Sendable (ServicePolicy?) -> Void]] = [:]
        var policySent: [PolicyKey: ServicePolicy?] = [:]
        var nextID: UInt64 = 0
        var generation: UInt64 = 0
    }

    public init(identity: MeshIdentity = MeshIdentity(), clusterDomain: String = "cluster.local", endpoints: EndpointSource = .selectors) {
        self.identity = identity
        self.clusterDomain = clusterDomain
        self.state = Mutex(State(endpointSource: endpoints))
    }

    /// How many snapshots changed something; `/ready` and tests use it.
    public var generation: UInt64 { self.state.withLock { $0.generation } }
    public var watcherCount: Int { self.state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } } }
    public var snapshot: ClusterSnapshot { self.state.withLock { $0.snapshot } }

    /// Replaces the cluster's contents. Returns how many watchers were sent a new state.
    ///
    /// `changes` names what differs from the current snapshot when the source knows it (a file source does), so
    /// the cost follows the change, not the cluster's size; without it the snapshots are compared in full (a
    /// relist).
    @discardableResult
    public func apply(_ next: ClusterSnapshot, changes known: SnapshotChanges? = nil) -> Int {
        self.state.withLock { state in
            let previous = state.snapshot
            let changes = known ?? Self.difference(previous, next)
            guard !changes.isEmpty else { return 0 }
            var old = Replaced()
            for key in changes.workloads { old.workloads[key] = previous.workloads[key] }
            for key in changes.endpointSlices { old.slices[key] = previous.endpointSlices[key] }
            state.snapshot = next
            return Self.commit(&state, changes, old, identity: self.identity)
        }
    }

    /// Puts the objects of `delta` in force (in place: the cost follows the change, and no copy of the cluster is
    /// made). Returns how many watchers were sent a new state.
    @discardableResult
    public func apply(_ delta: ClusterDelta) -> Int {
        guard !delta.isEmpty else { return 0 }
        return self.state.withLock { state in
            var changes = SnapshotChanges()
            var old = Replaced()
            var unused = Replaced()
            Self.put(delta.services, into: &state.snapshot.services, changed: &changes.services, replaced: &unused.services)
            Self.put(delta.workloads, into: &state.snapshot.workloads, changed: &changes.workloads, replaced: &old.workloads)
            Self.put(delta.routes, into: &state.snapshot.routes, changed: &changes.routes, replaced: &unused.routes)
            Self.put(
                delta.faultInjections, into: &state.snapshot.faultInjections, changed: &changes.faultInjections, replaced: &unused.faults)
            Self.put(delta.endpointSlices, into: &state.snapshot.endpointSlices, changed: &changes.endpointSlices, replaced: &old.slices)
            Self.put(
                delta.backendTrafficPolicies, into: &state.snapshot.backendTrafficPolicies, changed: &changes.backendTrafficPolicies,
                replaced: &unused.backendPolicies
            )
            guard !changes.isEmpty else { return 0 }
            return Self.commit(&state, changes, old, identity: self.identity)
        }
    }

    /// The versions of changed objects before the change (absent: the object is new). The commit needs the
    /// workloads' and slices' (to unindex them); the others are not kept.
    private struct Replaced {
        var workloads: [ObjectKey: WorkloadSpec] = [:]
        var slices: [ObjectKey: EndpointSliceSpec] = [:]
        var services: [ObjectKey: ServiceSpec] = [:]
        var routes: [RouteObjectID: RouteSpec] = [:]
        var faults: [ObjectKey: FaultInjectionSpec] = [:]
        var backendPolicies: [ObjectKey: BackendTrafficPolicySpec] = [:]
    }

    /// Puts each value (nil: removes it) where it differs, noting its key as changed and its previous version.
    private static func put<Key: Hashable, Value: Equatable>(
        _ values: [Key: Value?], into current: inout [Key: Value], changed: inout Set<Key>, replaced: inout [Key: Value]
    ) {
        for (key, value) in values {
            let previous = current[key]
            guard previous != value else { continue }
            replaced[key] = previous
            current[key] = value
            changed.insert(key)
        }
    }

    /// Brings the indexes up to date with the snapshot in force after `changes`, and tells the watchers whose
    /// answer changed.
    private static func commit(_ state: inout State, _ changes: SnapshotChanges, _ replaced: Replaced, identity: MeshIdentity) -> Int {
        let next = state.snapshot
        state.generation &+= 1
        var changedServices = changes.services
        for key in changes.endpointSlices {
            if let previous = replaced.slices[key] {
                changedServices.insert(previous.service)
                state.slicesByService[previous.service]?.remove(key)
                if state.slicesByService[previous.service]?.isEmpty == true { state.slicesByService[previous.service] = nil }
            }
            if let current = next.endpointSlices[key] {
                changedServices.insert(current.service)
                state.slicesByService[current.service, default: []].insert(key)
            }
        }
        // Changed workloads, old and new versions both: a workload that lost a label leaves a service.
        var changedWorkloads: [String: [WorkloadSpec]] = [:]
        var changedAddresses: Set<String> = []
        for key in changes.workloads {
            let old = replaced.workloads[key]
            let new = next.workloads[key]
            if let old {
                changedWorkloads[key.namespace, default: []].append(old)
                changedAddresses.insert(old.address)
                Self.unindex(old, in: &state.labelIndex)
            }
            if let new {
                changedWorkloads[key.namespace, default: []].append(new)
                changedAddresses.insert(new.address)
                Self.index(new, in: &state.labelIndex)
            }
        }

        var notified = 0
        if changes.touchesPolicy {
            // Policies are recomputed for the ports watched, each from the routes attached to it: a route edit
            // costs the watched ports, not the cluster.
            for (key, watchers) in state.policyWatchers {
                let policy = PolicyResolver.policy(for: key.authority, clientNamespace: key.clientNamespace, in: next)
                if let sent = state.policySent[key], sent == policy { continue }
                state.policySent[key] = .some(policy)
                for deliver in watchers.values { deliver(policy) }
                notified += watchers.count
            }
        }
        for (authority, watchers) in state.watchers {
            let key = authority.service
            var affected: Bool
            if let address = authority.workloadAddress {
                affected = changedAddresses.contains(address)
            } else {
                affected = changedServices.contains(key)
                if !affected, let service = next.services[key], let candidates = changedWorkloads[key.namespace] {
                    affected = candidates.contains { $0.isSelected(by: service.selector) }
                }
            }
            guard affected else { continue }
            let resolved = Self.resolve(authority, in: state, identity: identity)
            guard state.lastSent[authority] != resolved else { continue }
            state.lastSent[authority] = resolved
            for deliver in watchers.values { deliver(resolved) }
            notified += watchers.count
        }
        return notified
    }

    /// What differs between two snapshots, found by comparing them whole.
    static func difference(_ previous: ClusterSnapshot, _ next: ClusterSnapshot) -> SnapshotChanges {
        var changes = SnapshotChanges()
        guard previous != next else { return changes }
        for (key, service) in next.services where previous.services[key] != service { changes.services.insert(key) }
        for key in previous.services.keys where next.services[key] == nil { changes.services.insert(key) }
        for (key, workload) in next.workloads where previous.workloads[key] != workload { changes.workloads.insert(key) }
        for key in previous.workloads.keys where next.workloads[key] == nil { changes.workloads.insert(key) }
        for (key, route) in next.routes where previous.routes[key] != route { changes.routes.insert(key) }
        for key in previous.routes.keys where next.routes[key] == nil { changes.routes.insert(key) }
        for (key, fault) in next.faultInjections where previous.faultInjections[key] != fault { changes.faultInjections.insert(key) }
        for key in previous.faultInjections.keys where next.faultInjections[key] == nil { changes.faultInjections.insert(key) }
        for (key, slice) in next.endpointSlices where previous.endpointSlices[key] != slice { changes.endpointSlices.insert(key) }
        for key in previous.endpointSlices.keys where next.endpointSlices[key] == nil { changes.endpointSlices.insert(key) }
        for (key, policy) in next.backendTrafficPolicies where previous.backendTrafficPolicies[key] != policy {
            changes.backendTrafficPolicies.insert(key)
        }
        for key in previous.backendTrafficPolicies.keys where next.backendTrafficPolicies[key] == nil {
            changes.backendTrafficPolicies.insert(key)
        }
        return changes
    }

    /// The service port whose cluster IP is `ip`, for traffic captured on its way there.
    public func authority(clusterIP ip: String, port: Int) -> DestinationAuthority? {
        self.state.withLock { state in
            state.snapshot.services.values.first { $0.clusterIP == ip }.map { DestinationAuthority(service: $0.key, port: port) }
        }
    }

    /// The current answer for `authority`.
    public func resolve(_ authority: DestinationAuthority) -> DestinationResolution {
        self.state.withLock { Self.resolve(authority, in: $0, identity: self.identity) }
    }

    /// A stream of the answers for `authority`: the current one at once, then each change, until the consumer
    /// stops iterating.
    public func watch(_ authority: DestinationAuthority) -> AsyncStream<DestinationResolution> {
        let (stream, continuation) = AsyncStream.makeStream(of: DestinationResolution.self, bufferingPolicy: .bufferingNewest(1))
        let subscription = self.subscribe(authority) { continuation.yield($0) }
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Calls `deliver` with the current answer for `authority` at once, then with each change, until the
    /// subscription is cancelled. `deliver` runs under the index's lock: it must only hand the state on.
    public func subscribe(_ authority: DestinationAuthority, _ deliver: @escaping @Sendable (DestinationResolution) -> Void)
        -> DestinationSubscription
    {
        let id: UInt64 = self.state.withLock { state in
            let id = state.nextID
            state.nextID &+= 1
            state.watchers[authority, default: [:]][id] = deliver
            let current = state.lastSent[authority] ?? Self.resolve(authority, in: state, identity: self.identity)
            state.lastSent[authority] = current
            deliver(current)
            return id
        }
        return DestinationSubscription { [weak self] in
            self?.state.withLock { state in
                state.watchers[authority]?[id] = nil
                if state.watchers[authority]?.isEmpty == true {
                    state.watchers[authority] = nil
                    state.lastSent[authority] = nil
                }
            }
        }
    }

    /// A port's policy as the clients of one namespace see it (consumer routes are scoped to their namespace).
    struct PolicyKey: Hashable {
        var authority: DestinationAuthority
        var clientNamespace: String?
    }

    /// Calls `deliver` with the policy for `authority` as clients in `clientNamespace` see it (nil when it is not a
    /// Service port) at once, then with each change, until the subscription is cancelled. `deliver` runs under the
    /// index's lock: it must only hand it on.
    public func subscribePolicy(
        _ authority: DestinationAuthority, clientNamespace: String? = nil, _ deliver: @escaping @Sendable (ServicePolicy?) -> Void
    ) -> DestinationSubscription {
        let key = PolicyKey(authority: authority, clientNamespace: clientNamespace)
        let id: UInt64 = self.state.withLock { state in
            let id = state.nextID
            state.nextID &+= 1
            state.policyWatchers[key, default: [:]][id] = deliver
            let current =
                state.policySent[key] ?? PolicyResolver.policy(for: authority, clientNamespace: clientNamespace, in: state.snapshot)
            state.policySent[key] = .some(current)
            deliver(current)
            return id
        }
        return DestinationSubscription { [weak self] in
            self?.state.withLock { state in
                state.policyWatchers[key]?[id] = nil
                if state.policyWatchers[key]?.isEmpty == true {
                    state.policyWatchers[key] = nil
                    state.policySent[key] = nil
                }
            }
        }
    }

    // MARK: resolution

    private static func resolve(_ authority: DestinationAuthority, in state: State, identity: MeshIdentity) -> DestinationResolution {
        if let address = authority.workloadAddress {
            return Self.resolveWorkload(address: address, port: authority.port, in: state, identity: identity)
        }
        guard let service = state.snapshot.services[authority.service] else { return .noEndpoints(exists: false) }
        guard let port = service.ports.first(where: { $0.port == authority.port }) else { return .noEndpoints(exists: true) }
        let hint = Self.protocolHint(port.appProtocol)
        var endpoints: [EndpointAddress: ResolvedEndpoint] = [:]
        if state.endpointSource == .endpointSlices {
            for key in state.slicesByService[service.key] ?? [] {
                guard let slice = state.snapshot.endpointSlices[key], let slicePort = slice.ports.first(where: { $0.name == port.name })
                else {
                    continue
                }
                for member in slice.endpoints where member.ready {
                    let endpoint: ResolvedEndpoint
                    if let pod = member.pod, var workload = state.snapshot.workloads[ObjectKey(namespace: key.namespace, name: pod)] {
                        workload.address = member.address
                        endpoint = Self.endpoint(workload, port: slicePort.port, hint: hint, identity: identity)
                    } else {
                        // Not a pod we know (yet), or not a pod at all: reachable, without an identity.
                        endpoint = ResolvedEndpoint(
                            ip: member.address, port: slicePort.port, identity: nil, protocolHint: hint, labels: [:])
                    }
                    endpoints[endpoint.address] = endpoint
                }
            }
            guard !endpoints.isEmpty else { return .noEndpoints(exists: true) }
            return .endpoints(endpoints, labels: ["dst_namespace": service.key.namespace, "dst_service": service.key.name])
        }
        for key in Self.candidates(for: service, in: state) {
            guard let workload = state.snapshot.workloads[key], workload.isSelected(by: service.selector) else { continue }
            let targetPort: Int
            switch port.targetPort {
            case .number(let number): targetPort = number
            case .name(let name):
                guard let named = workload.ports.first(where: { $0.name == name }) else { continue }
                targetPort = named.port
            }
            let endpoint = Self.endpoint(workload, port: targetPort, hint: hint, identity: identity)
            endpoints[endpoint.address] = endpoint
        }
        guard !endpoints.isEmpty else { return .noEndpoints(exists: true) }
        return .endpoints(endpoints, labels: ["dst_namespace": service.key.namespace, "dst_service": service.key.name])
    }

    /// A workload's own address: the workload that declares `port` there, or the only one at that address (a pod
    /// may listen on ports it does not declare). Not a workload's address: unknown, the proxy dials it as it is.
    ///
    /// A scan of the workloads, not an index: pods dialled by address are few, the scan runs only when one of them
    /// changes, and an index of every address cost the controller ~6 MB at 10,000 endpoints (bench/discovery).
    private static func resolveWorkload(address: String, port: Int, in state: State, identity: MeshIdentity) -> DestinationResolution {
        let here = state.snapshot.workloads.values.filter { $0.address == address }.sorted { $0.key < $1.key }
        guard let workload = here.first(where: { $0.ports.contains { $0.port == port } }) ?? (here.count == 1 ? here[0] : nil) else {
            return .noEndpoints(exists: false)
        }
        let endpoint = Self.endpoint(workload, port: port, hint: .unknown, identity: identity)
        return .endpoints([endpoint.address: endpoint], labels: ["dst_namespace": workload.key.namespace])
    }

    private static func endpoint(_ workload: WorkloadSpec, port: Int, hint: ResolvedEndpoint.ProtocolHint, identity: MeshIdentity)
        -> ResolvedEndpoint
    {
        var labels = [
            "dst_pod": workload.key.name,
            "dst_workload": workload.owner?.name ?? workload.labels["app.kubernetes.io/name"] ?? workload.labels["app"]
                ?? workload.key.name,
            "dst_serviceaccount": workload.serviceAccount,
        ]
        // Linkerd's labels for the owner: dst_deployment, dst_statefulset, dst_daemonset, dst_job, …
        if let owner = workload.owner { labels["dst_\(owner.kind.lowercased())"] = owner.name }
        if let hash = workload.labels["pod-template-hash"] { labels["dst_pod_template_hash"] = hash }
        return ResolvedEndpoint(
            ip: workload.address, port: port,
            identity: workload.meshed ? identity.dnsName(serviceAccount: workload.serviceAccount, namespace: workload.key.namespace) : nil,
            protocolHint: hint, labels: labels
        )
    }

    /// The workloads that may match `service`: those carrying its rarest selector label.
    private static func candidates(for service: ServiceSpec, in state: State) -> Set<ObjectKey> {
        guard !service.selector.isEmpty, let labels = state.labelIndex[service.key.namespace] else { return [] }
        var best: Set<ObjectKey>? = nil
        for (key, value) in service.selector {
            let set = labels["\(key)=\(value)"] ?? []
            if best == nil || set.count < best!.count { best = set }
            if set.isEmpty { break }
        }
        return best ?? []
    }

    static func protocolHint(_ appProtocol: String?) -> ResolvedEndpoint.ProtocolHint {
        switch appProtocol?.lowercased() {
        case "kubernetes.io/h2c", "h2c", "grpc", "http2": return .http2
        case "linkerd.io/opaque", "swiftlet.io/opaque", "tcp", "opaque": return .opaque
        default: return .unknown
        }
    }

    private static func index(_ workload: WorkloadSpec, in index: inout [String: [String: Set<ObjectKey>]]) {
        for (key, value) in workload.labels {
            index[workload.key.namespace, default: [:]]["\(key)=\(value)", default: []].insert(workload.key)
        }
    }

    private static func unindex(_ workload: WorkloadSpec, in index: inout [String: [String: Set<ObjectKey>]]) {
        for (key, value) in workload.labels { index[workload.key.namespace]?["\(key)=\(value)"]?.remove(workload.key) }
    }
}

/// A subscription to a destination's answers; cancelled once, explicitly or when dropped.
public final class DestinationSubscription: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    init(onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = Mutex(onCancel)
    }

    public func cancel() {
        let action = self.onCancel.withLock { action in
            defer { action = nil }
            return action
        }
        action?()
    }

    deinit { self.cancel() }
}
