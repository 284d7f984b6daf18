/// How many retries a route may make: at most `ratio` of its requests plus `perSecond` a second, counted over a
/// sliding `window` — so that when a backend fails outright, retries add at most 20 % (by default) to its load
/// instead of multiplying it by the retry limit. Finagle's and Linkerd's ServiceProfile budgets work this way, and so
/// does the Gateway API's `XBackendTrafficPolicy` (a percentage over an interval, and a minimum retry rate); we give
/// every route one.
///
/// The minimum is a reserve the whole window holds from the start (`perSecond × window`), as Finagle's is: a route
/// with few requests gets its retries even when they come together (the Gateway API's retry conformance sends a
/// handful of requests back to back, each needing two or three retries). An earlier version let it accrue second by
/// second from the budget's first use, which refused exactly those retries.
///
/// A pure value: time comes in as nanoseconds on any monotonic clock. The window is kept as one-second buckets
/// (a ring of `window` seconds), so recording costs O(1) and memory is fixed.
public struct RetryBudget: Sendable {
    public struct Settings: Hashable, Sendable {
        public var ratio: Double
        public var perSecond: Double
        /// Whole seconds.
        public var window: Int

        public init(ratio: Double = 0.2, perSecond: Double = 10, window: Int = 10) {
            self.ratio = ratio
            self.perSecond = perSecond
            self.window = max(1, window)
        }
    }

    public let settings: Settings
    private var requests: [Int]
    private var retries: [Int]
    /// The second (since the clock's zero) each bucket holds; a bucket from an older second is stale.
    private var seconds: [Int64]

    public init(_ settings: Settings = Settings()) {
        self.settings = settings
        self.requests = Array(repeating: 0, count: settings.window)
        self.retries = Array(repeating: 0, count: settings.window)
        self.seconds = Array(repeating: -1, count: settings.window)
    }

    /// A request (a first try) was sent.
    public mutating func recordRequest(now: Int64) {
        let slot = self.slot(now)
        self.requests[slot] += 1
    }

    /// Whether a retry may go now; if so it is counted (withdrawn from the budget).
    public mutating func tryWithdraw(now: Int64) -> Bool {
        let second = now / 1_000_000_000
        var requests = 0, retries = 0
        for index in 0..<self.settings.window where self.seconds[index] > second - Int64(self.settings.window) {
            requests += self.requests[index]
            retries += self.retries[index]
        }
        let allowed = self.settings.ratio * Double(requests) + self.settings.perSecond * Double(self.settings.window)
        guard Double(retries) + 1 <= allowed else { return false }
        self.retries[self.slot(now)] += 1
        return true
    }

    private mutating func slot(_ now: Int64) -> Int {
        let second = now / 1_000_000_000
        let index = Int(second % Int64(self.settings.window))
        if self.seconds[index] != second {
            self.seconds[index] = second
            self.requests[index] = 0
            self.retries[index] = 0
        }
        return index
    }
}
