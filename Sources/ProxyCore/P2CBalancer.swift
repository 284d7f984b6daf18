import MeshModel

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
            let load = EndpointLoad(endpoint: endpoint, now: now)
            load.accrual = self.breaker(for: endpoint.address)
            return load
        }
    }

    /// Failure accrual for every endpoint (`nil`: endpoints are never ejected): the settings, the board of breakers
    /// and this balancer's scope on it.
    public private(set) var accrual: (settings: FailureAccrual, board: AccrualBoard, scope: String)?

    /// Turns failure accrual on or off (or changes its settings); endpoints keep their breaker while the settings stay.
    public mutating func setAccrual(_ settings: FailureAccrual?, board: AccrualBoard, scope: String) {
        if let current = self.accrual, current.settings == settings, current.board === board, current.scope == scope { return }
        self.accrual = settings.map { ($0, board, scope) }
        for load in self.loads { load.accrual = self.breaker(for: load.endpoint.address) }
    }

    private func breaker(for endpoint: HostPort) -> SharedEndpointAccrual? {
        guard let accrual = self.accrual else { return nil }
        return accrual.board.accrual(scope: accrual.scope, endpoint: endpoint, settings: accrual.settings)
    }

    public enum Pick {
        case endpoint(EndpointLoad)
        case none
        /// Every endpoint is ejected by failure accrual.
        case allEjected
    }

    /// P2C among the endpoints failure accrual allows now. An endpoint on probation takes one request at a time.
    /// `avoiding` (a retry's failed endpoint) is left out when another endpoint is available.
    public mutating func pickAvailable(now: UInt64, avoiding: HostPort? = nil) -> Pick {
        guard self.accrual != nil || avoiding != nil else { return self.pick(now: now).map { .endpoint($0) } ?? .none }
        guard !self.loads.isEmpty else { return .none }
        let clock = Int64(truncatingIfNeeded: now)
        var available: [EndpointLoad] = []
        available.reserveCapacity(self.loads.count)
        for load in self.loads where load.isAvailable(now: clock) { available.append(load) }
        if let avoiding, available.count > 1, let index = available.firstIndex(where: { $0.endpoint.address == avoiding }) {
            available.remove(at: index)
        }
        guard let chosen = Self.choose(available, now: now, random: &self.random) else { return .allEjected }
        chosen.accrual?.dispatched()
        return .endpoint(chosen)
    }

    public mutating func pick(now: UInt64) -> EndpointLoad? {
        Self.choose(self.loads, now: now, random: &self.random)
    }

    private static func choose(_ loads: [EndpointLoad], now: UInt64, random: inout Random) -> EndpointLoad? {
        switch loads.count {
        case 0: return nil
        case 1: return loads[0]
        default:
            let a = Int.random(in: 0..<loads.count, using: &random)
            var b = Int.random(in: 0..<(loads.count - 1), using: &random)
            if b >= a { b += 1 }
            let first = loads[a]
            let second = loads[b]
            return first.cost(now: now) <= second.cost(now: now) ? first : second
        }
    }
}
