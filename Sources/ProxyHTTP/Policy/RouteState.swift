import NIOCore
import ProxyCore

/// The route stage's state for one exchange (in its `StageSlot`): the series the route counts the exchange in, the
/// prefix its rule matched (a backend's `ReplacePrefixMatch` needs it too), or the wait for a first policy.
final class RouteState {
    let series: RouteSeries?
    let matchedPrefix: String?
    let waitingUntil: NIODeadline?

    init(series: RouteSeries? = nil, matchedPrefix: String? = nil, waitingUntil: NIODeadline? = nil) {
        self.series = series
        self.matchedPrefix = matchedPrefix
        self.waitingUntil = waitingUntil
    }
}

@available(*, unavailable)
extension RouteState: Sendable {}
