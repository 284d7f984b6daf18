import MeshModel
import Synchronization

/// A route's retry budget, shared by every event loop: the budget bounds the route's retries as a whole (a budget
/// per loop would allow `perSecond` once per loop). Requests of routes without retries never touch it.
public final class SharedRetryBudget: Sendable {
    private let budget: Mutex<RetryBudget>

    public init(_ settings: RetryBudget.Settings = RetryBudget.Settings()) {
        self.budget = Mutex(RetryBudget(settings))
    }

    public func recordRequest(now: Int64) {
        self.budget.withLock { $0.recordRequest(now: now) }
    }

    public func tryWithdraw(now: Int64) -> Bool {
        self.budget.withLock { $0.tryWithdraw(now: now) }
    }
}
