/// A document of a kind the mesh reads.
public enum ClusterObject: Hashable, Sendable {
    case service(ServiceSpec)
    case workload(WorkloadSpec)
    case route(RouteSpec)
    case faultInjection(FaultInjectionSpec)
    case backendTrafficPolicy(BackendTrafficPolicySpec)
}
