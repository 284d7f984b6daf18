/// The bucket bounds of the route families' `*_duration_seconds` histograms: 2^(k/8) seconds from 2^-13 (122 µs)
/// to 2^(27/8) (10.4 s), rounded to four significant digits.
///
/// Why so many: Prometheus's `histogram_quantile` interpolates linearly inside the bucket that holds a quantile, so
/// an estimate can be off by as much as the bucket is wide. Linkerd's route histograms (and the eleven bounds these
/// had before) are a factor of 2–2.5 apart, so a p99 can be off by more than half (Linkerd's issue #13483). Bounds a
/// factor 2^(1/8) ≈ 1.09 apart hold every quantile within 9.1 % of the truth whatever the distribution — the
/// worst case is all of a bucket's requests at one edge and the estimate at the other. They are also the bucket
/// boundaries of Prometheus's native histograms at schema 3, so moving to those later keeps every boundary.
///
/// The cost is series: 133 buckets a histogram instead of 12. Sparse buckets (only those with requests) would be
/// cheaper but cannot be summed across pods — `sum by (le)` needs every series to carry every bound — so the set is
/// fixed. A route series is one per route (and one per route and backend) per proxy, not per request or per peer.
public enum RouteLatencyBuckets {
    /// The finite upper bounds, ascending; a duration above the last falls in the `+Inf` bucket.
    public static let bounds: [Double] = (-104...27).map(Self.bound)

    /// The bounds as their `le` label values.
    static let labels: [String] = Self.bounds.map { "\($0)" }

    /// The index of the bucket `seconds` falls in: the first bound not below it, or `bounds.count` for `+Inf`.
    @inline(__always)
    public static func index(of seconds: Double) -> Int {
        var low = 0
        var high = Self.bounds.count
        while low < high {
            let middle = (low + high) >> 1
            if Self.bounds[middle] < seconds { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// 2^(k/8) seconds to four significant digits, parsed from its decimal form so the bound compared against is
    /// exactly the one Prometheus reads from the `le` label.
    static func bound(_ k: Int) -> Double {
        let eighths: [Double] = [
            1, 1.0905077326652577, 1.189207115002721, 1.2968395546510096, 1.4142135623730951, 1.5422108254079407,
            1.681792830507429, 1.8340080864093424,
        ]
        let octave = k >= 0 ? k / 8 : -((-k + 7) / 8)
        let value = Double(sign: .plus, exponent: octave, significand: eighths[k - octave * 8])
        var exponent = 0
        var scaled = value
        while scaled >= 10_000 { (scaled, exponent) = (scaled / 10, exponent + 1) }
        while scaled < 1_000 { (scaled, exponent) = (scaled * 10, exponent - 1) }
        return Double("\(Int(scaled.rounded()))e\(exponent)")!
    }
}
