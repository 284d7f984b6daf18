import NIOCore
import ProxyCore

/// Retries (DESIGN §3): a response with one of the rule's statuses (or gRPC codes, in a trailers-only answer), or a
/// failure before any response (refused, reset, a try's timeout), is tried again — up to the rule's limit, after a
/// backoff with full jitter, and only while the route's retry budget allows, so retries never multiply an outage.
/// The body is kept for the replay up to 64 KiB; a larger one is never retried.
final class RetryStage: HTTPStage {
    private var random = SystemRandomNumberGenerator()

    func request(_ exchange: Exchange) -> StageDecision {
        guard let routed = exchange.routed, let target = routed.target, let retry = target.retry, retry.limit > 0 else { return .proceed }
        routed.retry = retry
        target.budget.recordRequest(now: Self.now(exchange))
        exchange.retainBody = true
        return .proceed
    }

    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
        guard let routed = exchange.routed, let retry = routed.retry else { return .pass }
        var retryable = retry.retries(status: head.status)
        if !retryable, !retry.grpcCodes.isEmpty, let status = head.fields.first("grpc-status").flatMap({ Int($0) }) {
            retryable = retry.grpcCodes.contains(status)
        }
        return retryable ? self.decide(exchange, routed, retry) : .pass
    }

    func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict {
        guard let routed = exchange.routed, let retry = routed.retry else { return .pass }
        switch error.code {
        case .connectionRefused, .connectionReset, .connectTimeout, .responseTimeout, .upstreamFailed, .tlsHandshake:
            return self.decide(exchange, routed, retry)
        default:
            return .pass
        }
    }

    private func decide(_ exchange: Exchange, _ routed: RoutedExchange, _ retry: RouteRetry) -> StageVerdict {
        guard routed.retries < retry.limit else {
            routed.series?.recordRetryLimitExceeded()
            return .pass
        }
        guard !exchange.machine.bodyTooLargeToRetry, exchange.machine.canRetry else {
            routed.series?.recordRetryUnreplayable()
            return .pass
        }
        guard let target = routed.target, target.budget.tryWithdraw(now: Self.now(exchange)) else {
            routed.series?.recordRetryOverflow()
            return .pass
        }
        routed.retries += 1
        routed.series?.recordRetry()
        let backoff = RetryBackoff(base: retry.backoff, maximum: max(retry.backoff, 250_000_000))
        exchange.retryDelay = .nanoseconds(backoff.delay(attempt: routed.retries, using: &self.random))
        return .retry
    }

    static func now(_ exchange: Exchange) -> Int64 { Int64(truncatingIfNeeded: exchange.eventLoop.now.uptimeNanoseconds) }
}

@available(*, unavailable)
extension RetryStage: Sendable {}
