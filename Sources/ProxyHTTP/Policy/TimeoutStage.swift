import MeshModel
import ProxyCore

/// A rule's timeouts: `request` bounds the whole exchange, retries included (504 `request_timeout` before the
/// response began, the response cut after); `backendRequest` — or the retry annotation's `timeout` — bounds each
/// try until its response head (504 `response_timeout`, or a retry when the rule retries); `idle` (an annotation)
/// ends an exchange that nothing moved in for that long (504 `idle_timeout`, or a cut response). The exchange's
/// machine keeps the deadlines.
final class TimeoutStage: HTTPStage {
    let timeouts: RouteTimeouts

    init(timeouts: RouteTimeouts) {
        self.timeouts = timeouts
    }

    func request(_ exchange: Exchange) -> StageDecision {
        .bounded(self.timeouts)
    }
}

@available(*, unavailable)
extension TimeoutStage: Sendable {}
