import NIOCore
import ProxyCore

/// The rule's timeouts: `request` bounds the whole exchange, retries included (504 `request_timeout` before the
/// response began, the response cut after); `backendRequest` — or the retry annotation's `timeout` — bounds each
/// try until its response head (504 `response_timeout`, or a retry when the rule retries); `idle` (an annotation)
/// ends an exchange that nothing moved in for that long (504 `idle_timeout`, or a cut response).
final class TimeoutStage: HTTPStage {
    func request(_ exchange: Exchange) -> StageDecision {
        guard let target = exchange.routed?.target else { return .proceed }
        if let request = target.timeouts.request {
            // Counted from when the request arrived, as the client sees it.
            let left = request - exchange.elapsedNanoseconds
            exchange.setRequestTimeout(.nanoseconds(max(left, 0)))
        }
        if let idle = target.timeouts.idle { exchange.setIdleTimeout(.nanoseconds(idle)) }
        if let perTry = target.timeouts.backendRequest ?? target.retry?.timeout {
            exchange.machine.tryTimeout = .nanoseconds(perTry)
        }
        return .proceed
    }
}

@available(*, unavailable)
extension TimeoutStage: Sendable {}
