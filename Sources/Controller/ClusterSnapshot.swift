/// Everything a source knows at one moment. Sources hand whole snapshots to the index, which works out what
/// changed: a source stays simple, and a relist after a lost watch is the same operation as the first list.
public struct ClusterSnapshot: Hashable, Sendable {
    public var services: [ObjectKey: ServiceSpec]
    public var workloads: [ObjectKey: WorkloadSpec]
    public var routes: [RouteObjectID: RouteSpec]
    public var faultInjections: [ObjectKey: FaultInjectionSpec]
    /// On Kubernetes: the Services' endpoints as the endpoints controller chose them (keyed by slice).
    public var endpointSlices: [ObjectKey: EndpointSliceSpec]
    public var backendTrafficPolicies: [ObjectKey: BackendTrafficPolicySpec]

    public init(
        services: [ObjectKey: ServiceSpec] = [:], workloads: [ObjectKey: WorkloadSpec] = [:], routes: [RouteObjectID: RouteSpec] = [:],
        faultInjections: [ObjectKey: FaultInjectionSpec] = [:], endpointSlices: [ObjectKey: EndpointSliceSpec] = [:],
        backendTrafficPolicies: [ObjectKey: BackendTrafficPolicySpec] = [:]
    ) {
        self.services = services
        self.workloads = workloads
        self.routes = routes
        self.faultInjections = faultInjections
        self.endpointSlices = endpointSlices
        self.backendTrafficPolicies = backendTrafficPolicies
    }

    public init(_ objects: [ClusterObject]) {
        self.init()
        for object in objects {
            switch object {
            case .service(let service): self.services[service.key] = service
            case .workload(let workload): self.workloads[workload.key] = workload
            case .route(let route): self.routes[route.objectID] = route
            case .faultInjection(let fault): self.faultInjections[fault.key] = fault
            case .backendTrafficPolicy(let policy): self.backendTrafficPolicies[policy.key] = policy
            }
        }
    }

    public var endpointCount: Int { self.workloads.count }
}
