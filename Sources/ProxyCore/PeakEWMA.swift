/// A latency estimate that jumps up at once and comes down slowly: Finagle's and Linkerd's "peak EWMA".
///
/// A sample above the estimate replaces it (a slow endpoint is seen as slow after one slow response); a sample
/// below is averaged in with a weight that grows with the time since the last sample. Between samples the
/// estimate decays toward zero, so an endpoint that was avoided is tried again after a while. Time is passed
/// in (nanoseconds of a monotonic clock): the struct reads no clock, and tests drive it with a manual one.
public struct PeakEWMA: Sendable {
    /// What an endpoint without samples is assumed to take.
    public static let defaultRTTNanoseconds: Double = 30_000_000
    /// The decay period: after this long without samples, the estimate has fallen to 1/e.
    public static let defaultDecayNanoseconds: Double = 10_000_000_000

    public private(set) var estimateNanoseconds: Double
    private var stamp: UInt64
    private let decay: Double

    public init(
        now: UInt64, defaultRTTNanoseconds: Double = Self.defaultRTTNanoseconds, decayNanoseconds: Double = Self.defaultDecayNanoseconds
    ) {
        self.estimateNanoseconds = defaultRTTNanoseconds
        self.stamp = now
        self.decay = decayNanoseconds
    }

    public mutating func observe(rttNanoseconds sample: Double, now: UInt64) {
        let current = self.decayed(now)
        if sample > current {
            self.estimateNanoseconds = sample
        } else {
            let weight = Self.exp(-Double(now &- min(now, self.stamp)) / self.decay)
            self.estimateNanoseconds = current * weight + sample * (1 - weight)
        }
        self.stamp = max(self.stamp, now)
    }

    /// The estimate as of `now`, decayed since the last sample.
    public func decayed(_ now: UInt64) -> Double {
        guard now > self.stamp else { return self.estimateNanoseconds }
        return self.estimateNanoseconds * Self.exp(-Double(now - self.stamp) / self.decay)
    }

    /// `exp` without Foundation or Glibc: the proxy's core stays free of both.
    static func exp(_ x: Double) -> Double {
        guard x > -40 else { return 0 }
        // e^x = (e^(x/2^k))^(2^k), with a short series for the small argument.
        var k = 0
        var y = x
        while y < -0.5 || y > 0.5 {
            y /= 2
            k += 1
        }
        var term = 1.0
        var sum = 1.0
        for n in 1...12 {
            term *= y / Double(n)
            sum += term
        }
        for _ in 0..<k { sum *= sum }
        return sum
    }
}
