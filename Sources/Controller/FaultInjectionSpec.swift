import Kubernetes
import MeshModel

/// Our one CRD on the request path, `FaultInjection` (`policy.swiftlet.io/v1alpha1`), which an HTTPRoute or
/// GRPCRoute rule names in an `ExtensionRef` filter:
///
/// ```yaml
/// spec:
///   abort: {percent: 10, httpStatus: 503, grpcStatus: 14}   # grpcStatus: for gRPC calls (optional)
///   delay: {percent: 5, duration: 200ms}
/// ```
/// Shaped as one object with both faults so that one filter says everything, and so that later faults (a reset,
/// a slow body) are fields, not kinds: our CRD budget is three.
public struct FaultInjectionSpec: Hashable, Sendable {
    public static let apiVersion = "policy.swiftlet.io/v1alpha1"

    public var key: ObjectKey
    public var fault: RouteFault

    public init(key: ObjectKey, fault: RouteFault) {
        self.key = key
        self.fault = fault
    }
}

extension FaultInjectionSpec {
    /// Where the API serves the CRD's objects.
    public static let resource = ResourcePath(group: "policy.swiftlet.io", version: "v1alpha1", plural: "faultinjections")
}
