import NIOCore
import ProxyCore

/// One destination as one event loop balances it: the shared discovery entry and this loop's P2C balancer.
public final class LoopDestination {
    public let entry: DestinationEntry
    private var seenVersion: UInt64 = .max
    private var balancer = P2CBalancer(random: SystemRandomNumberGenerator())
    public private(set) var state: DestinationEntry.State = .pending

    init(entry: DestinationEntry) {
        self.entry = entry
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
    public func use(now: UInt64 = NIODeadline.now().uptimeNanoseconds) {
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
                once.value.destination.refresh(now: NIODeadline.now().uptimeNanoseconds)
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

    public func pick(now: UInt64) -> EndpointLoad? {
        self.balancer.pick(now: now)
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
