/// `--max-rps` over all of a tap's pods: at most `perSecond` requests admitted in each one-second window, counted
/// from the first. Each proxy also limits itself to its share (Linkerd's split: the rate over the pods, at least one
/// each), which alone would let many pods together exceed the rate; this window makes the total hold.
public struct TapRateWindow: Sendable {
    public let perSecond: Int
    private var windowStart: Duration?
    private var admitted = 0

    public init(perSecond: Int) {
        self.perSecond = max(1, perSecond)
    }

    /// Whether a request seen at `now` (any fixed origin) is tapped.
    public mutating func admit(at now: Duration) -> Bool {
        if let start = self.windowStart, now - start < .seconds(1) {
            guard self.admitted < self.perSecond else { return false }
            self.admitted += 1
            return true
        }
        // A new window starts with this request (an idle gap leaves no credit behind).
        self.windowStart = now
        self.admitted = 1
        return true
    }

    /// Each of `pods` proxies' share of `perSecond`, as Linkerd splits it: evenly, at least one.
    public static func share(_ perSecond: Int, pods: Int) -> Int {
        max(1, perSecond / max(1, pods))
    }
}
