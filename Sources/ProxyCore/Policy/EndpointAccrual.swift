import MeshModel

/// One endpoint's circuit breaker (failure accrual): healthy, ejected for a penalty after `maxFailures` failures
/// in a row, then on probation — it takes one real request, and that request's outcome decides: success makes it
/// healthy (and forgets past penalties), failure ejects it again for twice the penalty, up to the maximum.
///
/// A pure value: time is nanoseconds on a monotonic clock; randomness (the jitter) comes in.
public struct EndpointAccrual: Sendable {
    public enum State: Hashable, Sendable {
        case healthy(consecutiveFailures: Int)
        case ejected(until: Int64)
        /// One request is allowed through; `inFlight` once it has been handed out.
        case probation(inFlight: Bool)
    }

    public let settings: FailureAccrual
    public private(set) var state: State = .healthy(consecutiveFailures: 0)
    /// Ejections since the endpoint was last healthy: the next penalty is `minPenalty × 2^ejections`.
    public private(set) var ejections = 0

    public init(_ settings: FailureAccrual) {
        self.settings = settings
    }

    /// Whether the balancer may pick this endpoint now. An ejected endpoint whose penalty ran out goes on probation.
    public mutating func isAvailable(now: Int64) -> Bool {
        switch self.state {
        case .healthy: return true
        case .ejected(let until):
            guard now >= until else { return false }
            self.state = .probation(inFlight: false)
            return true
        case .probation(let inFlight): return !inFlight
        }
    }

    /// The balancer picked this endpoint for a request.
    public mutating func dispatched() {
        if case .probation(false) = self.state { self.state = .probation(inFlight: true) }
    }

    /// The request on probation ended without an outcome (the client went away): another may take its place.
    public mutating func released() {
        if case .probation(true) = self.state { self.state = .probation(inFlight: false) }
    }

    public mutating func succeeded() {
        self.state = .healthy(consecutiveFailures: 0)
        self.ejections = 0
    }

    /// A failure (5xx, a failing gRPC status, a connection failure). Returns whether the endpoint was ejected.
    @discardableResult
    public mutating func failed(now: Int64, using random: inout some RandomNumberGenerator) -> Bool {
        switch self.state {
        case .healthy(let failures):
            guard failures + 1 >= self.settings.maxFailures else {
                self.state = .healthy(consecutiveFailures: failures + 1)
                return false
            }
        case .probation:
            break
        case .ejected:
            return false  // a request that was in flight when the endpoint was ejected
        }
        self.state = .ejected(until: now + self.penalty(using: &random))
        self.ejections += 1
        return true
    }

    /// `minPenalty × 2^ejections`, at most `maxPenalty`, spread by ± `jitterRatio` of itself.
    func penalty(using random: inout some RandomNumberGenerator) -> Int64 {
        let doublings = min(self.ejections, 40)
        let (scaled, overflow) = self.settings.minPenalty.multipliedReportingOverflow(by: Int64(1) << doublings)
        let base = overflow ? self.settings.maxPenalty : min(scaled, self.settings.maxPenalty)
        let jitter =
            self.settings.jitterRatio > 0 ? Double.random(in: -self.settings.jitterRatio...self.settings.jitterRatio, using: &random) : 0
        return max(0, Int64(Double(base) * (1 + jitter)))
    }
}
