import Kubernetes
import MeshModel

/// The Gateway API's `XBackendTrafficPolicy` (`gateway.networking.x-k8s.io/v1alpha1`, GEP-3388, experimental from
/// v1.3): its `retryConstraint` is the retry budget of the Services it targets, the same budget the
/// `retry.swiftlet.io/budget-*` annotations set.
///
/// ```yaml
/// spec:
///   targetRefs: [{group: "", kind: Service, name: web}]
///   retryConstraint:
///     budget: {percent: 20, interval: 10s}        # at most 20 % of requests over 10 s are retries...
///     minRetryRate: {count: 10, interval: 1s}     # ...and at least 10 a second may be
/// ```
public struct BackendTrafficPolicySpec: Hashable, Sendable {
    public static let apiVersion = "gateway.networking.x-k8s.io/v1alpha1"
    public static let resource = ResourcePath(group: "gateway.networking.x-k8s.io", version: "v1alpha1", plural: "xbackendtrafficpolicies")

    public var key: ObjectKey
    /// The names of the Services it targets, in its own namespace.
    public var services: [String]
    /// nil when it has no `retryConstraint` (it may set other things, such as session persistence).
    public var budget: RetryBudget.Settings?

    public init(key: ObjectKey, services: [String], budget: RetryBudget.Settings?) {
        self.key = key
        self.services = services
        self.budget = budget
    }

    /// GEP-3388's defaults: 20 % over 10 s, and at least 10 retries a second.
    public static let defaultPercent = 20.0
    public static let defaultInterval: Int64 = 10_000_000_000
    public static let defaultMinRetryCount = 10
    public static let defaultMinRetryInterval: Int64 = 1_000_000_000

    /// The budget for a percentage over an interval and a minimum rate (a count over its interval; durations in
    /// nanoseconds): our budget counts whole seconds, so the window rounds up to at least one.
    public static func budget(percent: Double, interval: Int64, minRetries count: Int, per minInterval: Int64) -> RetryBudget.Settings {
        let window = max(1, Int((interval + 999_999_999) / 1_000_000_000))
        let perSecond = Double(count) / max(Double(minInterval) / 1e9, 0.001)
        return RetryBudget.Settings(ratio: percent / 100, perSecond: perSecond, window: window)
    }
}
