/// Picks one of a rule's backends per request, in proportion to their weights (Gateway API: weight 0 gets
/// nothing; all zero: no backend, the request is answered with 500).
public struct WeightedSplit: Sendable {
    /// Running sums of the positive weights, with the backend index each range belongs to.
    private let bounds: [(upper: Int, index: Int)]
    public let total: Int

    public init(weights: [Int]) {
        var sum = 0
        var bounds: [(upper: Int, index: Int)] = []
        for (index, weight) in weights.enumerated() where weight > 0 {
            sum += weight
            bounds.append((sum, index))
        }
        self.bounds = bounds
        self.total = sum
    }

    /// The index of the backend chosen, or nil when every weight is zero.
    public func pick(using random: inout some RandomNumberGenerator) -> Int? {
        guard self.total > 0 else { return nil }
        if self.bounds.count == 1 { return self.bounds[0].index }
        let draw = Int.random(in: 0..<self.total, using: &random)
        var low = 0, high = self.bounds.count - 1
        while low < high {
            let middle = (low + high) / 2
            if draw < self.bounds[middle].upper { high = middle } else { low = middle + 1 }
        }
        return self.bounds[low].index
    }
}
