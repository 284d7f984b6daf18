/// Power of two choices over peak-EWMA cost: pick two endpoints at random, use the cheaper.
///
/// Two random choices avoid both the herd behaviour of "always the least loaded" and the blindness of round
/// robin. One balancer per destination per event loop; nothing here locks. The random source is injected so tests
/// can fix it.
public struct P2CBalancer<Random: RandomNumberGenerator> {
    public private(set) var loads: [EndpointLoad] = []
    private var random: Random

    public init(random: Random) {
        self.random = random
    }

    /// Replaces the endpoint set, keeping what was learnt of the endpoints that stay.
    public mutating func update(_ endpoints: [DiscoveredEndpoint], now: UInt64) {
        var previous: [HostPort: EndpointLoad] = [:]
        for load in self.loads { previous[load.endpoint.address] = load }
        self.loads = endpoints.map { endpoint in
            if let load = previous[endpoint.address], load.endpoint == endpoint { return load }
            return EndpointLoad(endpoint: endpoint, now: now)
        }
    }

    public mutating func pick(now: UInt64) -> EndpointLoad? {
        switch self.loads.count {
        case 0: return nil
        case 1: return self.loads[0]
        default:
            let a = Int.random(in: 0..<self.loads.count, using: &self.random)
            var b = Int.random(in: 0..<(self.loads.count - 1), using: &self.random)
            if b >= a { b += 1 }
            let first = self.loads[a]
            let second = self.loads[b]
            return first.cost(now: now) <= second.cost(now: now) ? first : second
        }
    }
}
