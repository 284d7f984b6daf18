/// Objects put (a value) or taken away (nil), by key: what a watch event or a relist of one kind changes. The
/// index applies it in place, so the cost follows the change and no copy of the cluster is made.
public struct ClusterDelta: Sendable {
    public var services: [ObjectKey: ServiceSpec?] = [:]
    public var workloads: [ObjectKey: WorkloadSpec?] = [:]
    public var routes: [RouteObjectID: RouteSpec?] = [:]
    public var faultInjections: [ObjectKey: FaultInjectionSpec?] = [:]
    public var endpointSlices: [ObjectKey: EndpointSliceSpec?] = [:]
    public var backendTrafficPolicies: [ObjectKey: BackendTrafficPolicySpec?] = [:]

    public init() {}

    public var isEmpty: Bool {
        self.services.isEmpty && self.workloads.isEmpty && self.routes.isEmpty && self.faultInjections.isEmpty
            && self.endpointSlices.isEmpty
            && self.backendTrafficPolicies.isEmpty
    }

    public var count: Int {
        self.services.count + self.workloads.count + self.routes.count + self.faultInjections.count + self.endpointSlices.count
            + self.backendTrafficPolicies.count
    }
}
