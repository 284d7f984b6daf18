import ProxyCore
import Testing

/// A seeded generator so a balancing run is the same every time.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct P2CBalancerTests {
    static let ms: UInt64 = 1_000_000

    static func endpoint(_ port: Int) -> DiscoveredEndpoint {
        DiscoveredEndpoint(address: HostPort(host: "127.0.0.1", port: port))
    }

    /// Requests arrive every `interval`; each endpoint answers after its latency, ±20 % (without jitter the
    /// simulation falls into lockstep cycles no real traffic has). Returns requests per port.
    static func run(latencies: [Int: UInt64], requests: Int, interval: UInt64, seed: UInt64) -> [Int: Int] {
        var balancer = P2CBalancer(random: SplitMix64(state: seed))
        var jitter = SplitMix64(state: seed ^ 0xFFFF)
        balancer.update(latencies.keys.sorted().map(Self.endpoint), now: 0)
        var inFlight: [(done: UInt64, load: EndpointLoad, started: UInt64)] = []
        var counts: [Int: Int] = [:]
        var now: UInt64 = 0
        for _ in 0..<requests {
            now += interval
            inFlight.sort { $0.done < $1.done }
            while let first = inFlight.first, first.done <= now {
                first.load.finished(rttNanoseconds: first.done - first.started, now: first.done)
                inFlight.removeFirst()
            }
            let load = balancer.pick(now: now)!
            load.started()
            counts[load.endpoint.address.port, default: 0] += 1
            let latency = Double(latencies[load.endpoint.address.port]!) * Double.random(in: 0.8...1.2, using: &jitter)
            inFlight.append((now + UInt64(latency), load, now))
        }
        return counts
    }

    @Test func aSlowEndpointGetsMeasurablyLessTraffic() {
        let counts = Self.run(latencies: [1: 2 * Self.ms, 2: 2 * Self.ms, 3: 60 * Self.ms], requests: 20_000, interval: Self.ms, seed: 7)
        let slowShare = Double(counts[3, default: 0]) / 20_000
        // Round robin would give it a third. It is still probed now and then (its estimate decays).
        #expect(slowShare < 0.10)
        #expect(slowShare > 0)
        #expect(abs(counts[1, default: 0] - counts[2, default: 0]) < 2_000)
    }

    @Test func equalEndpointsShareEvenly() {
        let counts = Self.run(latencies: [1: 5 * Self.ms, 2: 5 * Self.ms], requests: 10_000, interval: Self.ms, seed: 11)
        #expect(abs(counts[1, default: 0] - counts[2, default: 0]) < 1_000)
    }

    @Test func peakEWMAJumpsUpAtOnceAndComesDownWithTime() {
        var ewma = PeakEWMA(now: 0)
        #expect(ewma.estimateNanoseconds == PeakEWMA.defaultRTTNanoseconds)
        ewma.observe(rttNanoseconds: 500 * Double(Self.ms), now: Self.ms)
        #expect(ewma.estimateNanoseconds == 500 * Double(Self.ms))
        // A fast sample right after barely moves it; the same sample after a decay period moves it most of the way.
        var soon = ewma
        soon.observe(rttNanoseconds: Double(Self.ms), now: 2 * Self.ms)
        #expect(soon.estimateNanoseconds > 450 * Double(Self.ms))
        var later = ewma
        later.observe(rttNanoseconds: Double(Self.ms), now: 20_000 * Self.ms)
        #expect(later.estimateNanoseconds < 100 * Double(Self.ms))
        // Without samples the estimate decays toward zero (an avoided endpoint is tried again).
        #expect(ewma.decayed(10_001 * Self.ms) < 200 * Double(Self.ms))
    }

    @Test func anUpdateKeepsWhatWasLearntOfEndpointsThatStay() {
        var balancer = P2CBalancer(random: SplitMix64(state: 1))
        balancer.update([Self.endpoint(1), Self.endpoint(2)], now: 0)
        let kept = balancer.loads[0]
        kept.started()
        balancer.update([Self.endpoint(1), Self.endpoint(3)], now: 10)
        #expect(balancer.loads[0] === kept)
        #expect(balancer.loads[0].pending == 1)
        #expect(balancer.loads.map(\.endpoint.address.port) == [1, 3])
    }
}
