import MeshModel
import NIOCore
import ProxyCore

/// Retries (DESIGN §3): a response with one of the rule's statuses (or gRPC codes, in a trailers-only answer), or a
/// failure before any response (refused, reset, a try's timeout), is tried again — up to the rule's limit, after a
/// backoff with full jitter, and only while the route's retry budget allows, so retries never multiply an outage.
/// The body is kept for the replay up to 64 KiB; a larger one is never retried.
final class RetryStage: HTTPStage {
    let retry: RouteRetry
    let budget: SharedRetryBudget
    /// The route's series, which count retries.
    let series: RouteSeries
    /// Retries made for an exchange (set on its first retry).
    let slot = StageSlot<Retries>()
    private let backoff: RetryBackoff
    private var random = SystemRandomNumberGenerator()

    final class Retries {
        var count = 0
    }

    init(retry: RouteRetry, budget: SharedRetryBudget, series: RouteSeries) {
        self.retry = retry
        self.budget = budget
        self.series = series
        self.backoff = RetryBackoff(base: retry.backoff, maximum: max(retry.backoff, 250_000_000))
    }

    var replaysRequests: Bool { true }

    func request(_ exchange: Exchange) -> StageDecision {
        self.budget.recordRequest(now: Self.nanoseconds(exchange.now))
        return .proceed
    }

    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
        var retryable = self.retry.retries(status: head.status)
        if !retryable, !self.retry.grpcCodes.isEmpty, let status = head.fields.first("grpc-status").flatMap({ Int($0) }) {
            retryable = self.retry.grpcCodes.contains(status)
        }
        return retryable ? self.decide(exchange) : .pass
    }

    func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict {
        switch error.code {
        case .connectionRefused, .connectionReset, .connectTimeout, .responseTimeout, .upstreamFailed, .tlsHandshake:
            return self.decide(exchange)
        default:
            return .pass
        }
    }

    func finished(_ exchange: Exchange) {
        guard let retries = exchange.slots[self.slot], retries.count > 0 else { return }
        let outcome = RouteStage.outcome(of: exchange)
        if !outcome.isFailure, outcome.grpcStatus ?? 0 == 0 { self.series.recordRetrySuccess() }
    }

    private func decide(_ exchange: Exchange) -> StageVerdict {
        let retries = exchange.slots[self.slot]
        guard (retries?.count ?? 0) < self.retry.limit else {
            self.series.recordRetryLimitExceeded()
            return .pass
        }
        guard !exchange.bodyTooLargeToReplay, exchange.canReplay else {
            self.series.recordRetryUnreplayable()
            return .pass
        }
        guard self.budget.tryWithdraw(now: Self.nanoseconds(exchange.now)) else {
            self.series.recordRetryOverflow()
            return .pass
        }
        let counted = retries ?? Retries()
        if retries == nil { exchange.slots[self.slot] = counted }
        counted.count += 1
        self.series.recordRetry()
        return .retry(after: .nanoseconds(self.backoff.delay(attempt: counted.count, using: &self.random)))
    }

    static func nanoseconds(_ deadline: NIODeadline) -> Int64 { Int64(truncatingIfNeeded: deadline.uptimeNanoseconds) }
}

@available(*, unavailable)
extension RetryStage: Sendable {}
