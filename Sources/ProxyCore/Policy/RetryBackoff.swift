/// The wait before retry number `attempt` (1 for the first retry): exponential from `base`, capped at `maximum`,
/// with full jitter — uniformly anywhere from zero to that bound, so clients that failed together do not retry
/// together (the AWS architecture blog's "full jitter"). Nanoseconds.
public struct RetryBackoff: Hashable, Sendable {
    public var base: Int64
    public var maximum: Int64

    public init(base: Int64 = 25_000_000, maximum: Int64 = 250_000_000) {
        self.base = max(0, base)
        self.maximum = max(self.base, maximum)
    }

    /// The bound for `attempt`: `base × 2^(attempt-1)`, at most `maximum`.
    public func ceiling(attempt: Int) -> Int64 {
        let doublings = min(max(attempt - 1, 0), 40)
        let (scaled, overflow) = self.base.multipliedReportingOverflow(by: Int64(1) << doublings)
        return overflow ? self.maximum : min(scaled, self.maximum)
    }

    public func delay(attempt: Int, using random: inout some RandomNumberGenerator) -> Int64 {
        let ceiling = self.ceiling(attempt: attempt)
        return ceiling == 0 ? 0 : Int64.random(in: 0...ceiling, using: &random)
    }
}
