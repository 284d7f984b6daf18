/// The load of one endpoint as one event loop sees it: requests in flight and a peak-EWMA of their latency.
///
/// A reference type so that a request holds its endpoint's load from pick to finish without a look-up, even if
/// the destination's endpoints change meanwhile. Owned by one event loop.
public final class EndpointLoad {
    public let endpoint: DiscoveredEndpoint
    public private(set) var pending = 0
    public private(set) var ewma: PeakEWMA
    /// The endpoint's circuit breaker, when its Service asks for failure accrual (shared with the other loops).
    public var accrual: SharedEndpointAccrual?

    public init(endpoint: DiscoveredEndpoint, now: UInt64) {
        self.endpoint = endpoint
        self.ewma = PeakEWMA(now: now)
    }

    /// Cost as Finagle defines it: latency estimate × (requests in flight + 1), divided by the endpoint's weight.
    public func cost(now: UInt64) -> Double {
        self.ewma.decayed(now) * Double(self.pending + 1) / Double(max(self.endpoint.weight, 1))
    }

    public func started() {
        self.pending += 1
    }

    public func finished(rttNanoseconds: UInt64, now: UInt64) {
        self.pending = max(0, self.pending - 1)
        self.ewma.observe(rttNanoseconds: Double(rttNanoseconds), now: now)
    }

    /// A latency learnt while the work goes on (a TCP connection's connect time; the connection stays pending).
    public func observe(rttNanoseconds: UInt64, now: UInt64) {
        self.ewma.observe(rttNanoseconds: Double(rttNanoseconds), now: now)
    }

    /// Whether failure accrual lets the balancer pick the endpoint now (always, without accrual).
    public func isAvailable(now: Int64) -> Bool {
        self.accrual?.isAvailable(now: now) ?? true
    }

    /// One attempt's outcome, for failure accrual: a 5xx, a failing gRPC status or a connection failure counts
    /// against the endpoint, anything else restores it.
    public func recordOutcome(failed: Bool, now: Int64) {
        self.accrual?.record(failed: failed, now: now)
    }

    /// Work that ended without a latency worth learning from (a request cancelled by the client, a closed connection).
    public func abandoned() {
        self.pending = max(0, self.pending - 1)
        self.accrual?.released()
    }
}

@available(*, unavailable)
extension EndpointLoad: Sendable {}
