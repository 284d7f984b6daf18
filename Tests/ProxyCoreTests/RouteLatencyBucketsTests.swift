import Foundation
import ProxyCore
import Testing

/// The route histograms' buckets answer quantiles within 10 % of the truth: durations of known distributions are
/// recorded in a route series, the rendered buckets read back, and each quantile estimated as Prometheus's
/// `histogram_quantile` does (linear inside the bucket that holds the rank) — then compared with the recorded
/// durations' own quantile.
@Suite struct RouteLatencyBucketsTests {
    /// Prometheus's `bucketQuantile` (promql/quantile.go): the bucket whose cumulative count first reaches
    /// `q × count`, interpolated linearly from its lower bound (0 for the first); in `+Inf`, the last finite bound.
    static func prometheusQuantile(_ q: Double, _ buckets: [(le: Double, cumulative: Double)]) -> Double {
        let total = buckets.last!.cumulative
        let rank = q * total
        let index = buckets.firstIndex { $0.cumulative >= rank }!
        if index == buckets.count - 1 { return buckets[buckets.count - 2].le }
        let lower = index == 0 ? 0 : buckets[index - 1].le
        let below = index == 0 ? 0 : buckets[index - 1].cumulative
        return lower + (buckets[index].le - lower) * (rank - below) / (buckets[index].cumulative - below)
    }

    /// The empirical quantile: the smallest recorded duration with at least `q × n` durations at or below it.
    static func trueQuantile(_ q: Double, _ sorted: [Double]) -> Double {
        sorted[max(Int((q * Double(sorted.count)).rounded(.up)) - 1, 0)]
    }

    /// Records `durations` in a route series of a fresh shard and reads its request-duration buckets back from the
    /// rendered metrics.
    static func renderedBuckets(_ durations: [Double]) throws -> [(le: Double, cumulative: Double)] {
        let shard = MetricsShard()
        let labels = RouteLabels(family: .http, parentNamespace: "demo", parentName: "web", parentPort: 8080, route: nil)
        let series = shard.routeSeries(for: labels)
        for seconds in durations {
            series.recordRequest()
            series.record(RouteOutcome(status: 200, grpcStatus: nil, error: nil), seconds: seconds)
        }
        var snapshot = MetricsSnapshot()
        snapshot.merge(shard.snapshot())
        var text = ""
        snapshot.render(into: &text)
        return try text.split(separator: "\n").filter { $0.hasPrefix("outbound_http_route_request_duration_seconds_bucket{") }.map {
            line in
            let le = try #require(line.split(separator: "le=\"").last?.split(separator: "\"").first)
            let value = try #require(line.split(separator: " ").last.flatMap { Double($0) })
            return (le == "+Inf" ? .infinity : try #require(Double(le)), value)
        }
    }

    /// Distributions a route sees: a log-normal around 60 ms, a heavy Pareto tail from 2 ms, a uniform spread, the
    /// sub-millisecond answers of a cache, and the worst case for interpolation — all of each bucket's requests on
    /// its lower edge.
    static var distributions: [(name: String, durations: [Double])] {
        let n = 2_000
        let uniform = (0..<n).map { (Double($0) + 0.5) / Double(n) }
        // The inverse of the normal distribution function, by bisection on erf: for the log-normal.
        func probit(_ p: Double) -> Double {
            var (low, high) = (-8.0, 8.0)
            for _ in 0..<80 {
                let middle = (low + high) / 2
                if 0.5 * (1 + erf(middle / 2.squareRoot())) < p { low = middle } else { high = middle }
            }
            return (low + high) / 2
        }
        let edges = RouteLatencyBuckets.bounds
        return [
            ("log-normal", uniform.map { 0.060 * exp(0.6 * probit($0)) }),
            ("pareto", uniform.map { 0.002 * pow(1 - $0, -1 / 1.5) }),
            ("uniform 20-220 ms", uniform.map { 0.020 + 0.2 * $0 }),
            ("cache 150-900 µs", uniform.map { 0.000_15 + 0.000_75 * $0 }),
            ("edges", (0..<n).map { edges[40 + ($0 % 60)].nextUp }),
        ]
    }

    @Test(arguments: [0.5, 0.95, 0.99])
    func quantilesAreWithinTenPercentOfTheTruth(q: Double) throws {
        for (name, durations) in Self.distributions {
            let estimate = Self.prometheusQuantile(q, try Self.renderedBuckets(durations))
            let truth = Self.trueQuantile(q, durations.sorted())
            #expect(abs(estimate - truth) / truth <= 0.10, "\(name) p\(Int(q * 100)): \(estimate) against \(truth)")
        }
    }

    @Test func boundsAreAboutANinthApartFrom122MicrosecondsToTenSeconds() {
        let bounds = RouteLatencyBuckets.bounds
        #expect(bounds.first == 0.000_122_1 && bounds.last! >= 10)
        for (lower, upper) in zip(bounds, bounds.dropFirst()) {
            #expect(upper / lower > 1.08 && upper / lower < 1.092, "\(lower) → \(upper)")
        }
        // Each bound is the value its `le` label says, four digits at most: what is compared is what Prometheus reads.
        for bound in bounds { #expect("\(bound)".filter(\.isNumber).drop { $0 == "0" }.count <= 4, "\(bound)") }
    }

    @Test func aDurationOnABoundCountsInThatBucket() {
        let bounds = RouteLatencyBuckets.bounds
        #expect(RouteLatencyBuckets.index(of: 0) == 0)
        #expect(RouteLatencyBuckets.index(of: bounds[0]) == 0)
        #expect(RouteLatencyBuckets.index(of: bounds[0].nextUp) == 1)
        #expect(RouteLatencyBuckets.index(of: bounds[70]) == 70)
        #expect(RouteLatencyBuckets.index(of: bounds.last!) == bounds.count - 1)
        #expect(RouteLatencyBuckets.index(of: bounds.last!.nextUp) == bounds.count)
        #expect(RouteLatencyBuckets.index(of: 3600) == bounds.count)
    }
}
