import NIOCore
import ProxyCore

/// What the route stage decided for one exchange, for the policy stages after it (timeouts, retries) and for the
/// route metrics: the plan, and what became of it.
public final class RoutedExchange {
    public enum Wait: Equatable {
        /// The Service port's policy has no first answer yet.
        case policy
        /// The backend's endpoints have no first answer yet.
        case backend
        /// A fault's injected delay.
        case delay
    }

    /// The rule's backend the request goes to, with everything the stages need of it.
    var target: RoutedBackend?
    /// The part of the path the rule's `PathPrefix` matched (for `ReplacePrefixMatch`), and an injected delay.
    var matchedPrefix: String?
    var delay: Int64?
    /// What the exchange waits for, until `deadline` (uptime nanoseconds); `nil` when it does not.
    public var waiting: (wait: Wait, deadline: UInt64)?
    /// Retries made (the first try is not one).
    public var retries = 0
    /// The retry policy the request goes under, once the retry stage took it.
    public var retry: RouteRetry?
    /// The route's series and the chosen backend's (Linkerd's `outbound_*_route_*` families).
    public var series: RouteSeries?
    public var backendSeries: RouteSeries?

    init() {}
}

@available(*, unavailable)
extension RoutedExchange: Sendable {}
