import MeshModel
import NIOCore
import ProxyCore

/// One destination as one event loop balances it: the shared discovery entry and this loop's P2C balancer.
public final class LoopDestination {
    public let entry: DestinationEntry
    private var seenVersion: UInt64 = .max
    private var balancer = P2CBalancer(random: SystemRandomNumberGenerator())
    public private(set) var state: DestinationState = .pending

    init(entry: DestinationEntry) {
        self.entry = entry
    }

    /// The Service's own labels (`dst_namespace`, `dst_service`) as discovery gives them, before any endpoint is
    /// chosen: tap matches `--to svc/…` on them for a request the proxy answered itself and for an opaque
    /// connection. Empty while discovery has none.
    public var serviceLabels: [MetricLabel] {
        guard case .endpoints(let endpoints) = self.entry.current, let first = endpoints.first else { return [] }
        return first.labels.filter { $0.name == "dst_namespace" || $0.name == "dst_service" }
    }

    /// Takes in what discovery published since the last request (one atomic load when nothing changed).
    public func refresh(now: UInt64) {
        let version = self.entry.version
        guard version != self.seenVersion else { return }
        self.seenVersion = version
        self.state = self.entry.current
        if case .endpoints(let endpoints) = self.state { self.balancer.update(endpoints, now: now) }
    }

    /// Marks the destination used (it is not evicted while in use) and takes in the latest endpoints.
    public func use(now: UInt64) {
        self.entry.touch(now: now)
        self.refresh(now: now)
    }

    /// Calls `body` on `loop` once: when discovery first answers, or after `timeout` if it has not (the caller then
    /// routes without it). The endpoints are refreshed first. Returns the timer, for a caller that goes away.
    @discardableResult
    public func afterFirstAnswer(on loop: EventLoop, timeout: TimeAmount, _ body: @escaping () -> Void) -> Scheduled<Void> {
        let once = NIOLoopBound((flag: OnceFlag(), destination: self, body: body), eventLoop: loop)
        let proceed: @Sendable () -> Void = {
            loop.execute {
                guard once.value.flag.claim() else { return }
                once.value.destination.refresh(now: loop.now.uptimeNanoseconds)
                once.value.body()
            }
        }
        let timer = loop.scheduleTask(in: timeout) { proceed() }
        self.entry.whenAnswered {
            timer.cancel()
            proceed()
        }
        return timer
    }

    /// An endpoint for a request; a retry passes the endpoint that failed, to go elsewhere when it can.
    public func pick(now: UInt64, avoiding: HostPort? = nil) -> P2CBalancer<SystemRandomNumberGenerator>.Pick {
        self.balancer.pickAvailable(now: now, avoiding: avoiding)
    }

    /// Failure accrual for this balancer's endpoints (its parent Service's policy), `nil` for none; the breakers are
    /// `board`'s, shared with the other loops' balancers of the same `scope`.
    public func setAccrual(_ settings: FailureAccrual?, board: AccrualBoard, scope: String) {
        self.balancer.setAccrual(settings, board: board, scope: scope)
    }
}

extension LoopDestination: BalancerGaugeSource {
    /// Endpoints by failure accrual's state: ejected ones wait out a penalty, the rest (healthy, on probation) can
    /// be picked.
    public var endpointStates: (ready: Int, ejected: Int) {
        var ejected = 0
        for load in self.balancer.loads {
            if case .ejected? = load.accrual?.state { ejected += 1 }
        }
        return (self.balancer.loads.count - ejected, ejected)
    }
}

@available(*, unavailable)
extension LoopDestination: Sendable {}

/// True the first time only: which of two racing events acts.
final class OnceFlag {
    private var claimed = false

    func claim() -> Bool {
        defer { self.claimed = true }
        return !self.claimed
    }
}
