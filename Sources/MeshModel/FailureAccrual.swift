/// Circuit breaking per endpoint (`balancer.swiftlet.io/failure-accrual: consecutive` on a Service): after
/// `maxFailures` failures in a row an endpoint leaves the balancer for a penalty that starts at `minPenalty` and
/// doubles, up to `maxPenalty`, each time it fails again on probation; `jitterRatio` spreads the penalties so that
/// endpoints ejected together do not return together. Durations in nanoseconds.
public struct FailureAccrual: Hashable, Sendable {
    public var maxFailures: Int
    public var minPenalty: Int64
    public var maxPenalty: Int64
    public var jitterRatio: Double

    public init(maxFailures: Int = 7, minPenalty: Int64 = 1_000_000_000, maxPenalty: Int64 = 60_000_000_000, jitterRatio: Double = 0.5) {
        self.maxFailures = maxFailures
        self.minPenalty = minPenalty
        self.maxPenalty = maxPenalty
        self.jitterRatio = jitterRatio
    }
}
