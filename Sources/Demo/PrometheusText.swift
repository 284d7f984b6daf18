/// Just enough of the Prometheus text format to read the proxies' own `/metrics`.
struct PrometheusSample: Sendable {
    var name: String
    var labels: [String: String]
    var value: Double

    static func parse(_ text: String) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples.append(PrometheusSample(name: String(series), labels: [:], value: value))
                continue
            }
            var labels: [String: String] = [:]
            var rest = series[series.index(after: brace)...].dropLast()
            while let equals = rest.firstIndex(of: "=") {
                let key = String(rest[..<equals]).trimmingCharacters(in: [","])
                var cursor = rest.index(after: equals)
                guard cursor < rest.endIndex, rest[cursor] == "\"" else { break }
                cursor = rest.index(after: cursor)
                var value = ""
                while cursor < rest.endIndex, rest[cursor] != "\"" {
                    if rest[cursor] == "\\" { cursor = rest.index(after: cursor) }
                    if cursor < rest.endIndex { value.append(rest[cursor]) }
                    cursor = rest.index(after: cursor)
                }
                labels[key] = value
                rest = cursor < rest.endIndex ? rest[rest.index(after: cursor)...] : rest[rest.endIndex...]
            }
            samples.append(PrometheusSample(name: String(series[..<brace]), labels: labels, value: value))
        }
        return samples
    }
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

/// Requests, failures and a latency histogram, summed over some series: what a row of the demo's table needs.
struct TrafficTotals: Sendable {
    var success = 0.0
    var failure = 0.0
    /// `le` upper bound (ms) → cumulative count.
    var buckets: [Double: Double] = [:]

    var total: Double { self.success + self.failure }

    static func - (a: TrafficTotals, b: TrafficTotals) -> TrafficTotals {
        var result = TrafficTotals(success: max(a.success - b.success, 0), failure: max(a.failure - b.failure, 0))
        for (le, count) in a.buckets { result.buckets[le] = max(count - (b.buckets[le] ?? 0), 0) }
        return result
    }

    mutating func add(_ sample: PrometheusSample) {
        switch sample.name {
        case "response_total":
            if sample.labels["classification"] == "success" { self.success += sample.value } else { self.failure += sample.value }
        case "response_latency_ms_bucket":
            let le = sample.labels["le"] == "+Inf" ? Double.infinity : Double(sample.labels["le"] ?? "") ?? .infinity
            self.buckets[le, default: 0] += sample.value
        default: break
        }
    }

    /// The `q` quantile in milliseconds, interpolated inside its bucket as Prometheus's `histogram_quantile` does.
    func quantile(_ q: Double) -> Double? {
        let bounds = self.buckets.keys.sorted()
        guard let total = bounds.last.flatMap({ self.buckets[$0] }), total > 0 else { return nil }
        let rank = q * total
        var previousBound = 0.0
        var previousCount = 0.0
        for bound in bounds {
            let count = self.buckets[bound] ?? 0
            if count >= rank {
                if bound == .infinity { return previousBound }
                let inBucket = count - previousCount
                return inBucket > 0 ? previousBound + (bound - previousBound) * (rank - previousCount) / inBucket : bound
            }
            previousBound = bound
            previousCount = count
        }
        return previousBound
    }
}
