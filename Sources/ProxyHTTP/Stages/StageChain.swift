/// The stages of one destination, route rule or backend, in order, and the balancer its attempts go to.
public final class StageChain {
    public let stages: [any HTTPStage]
    /// Where attempts go once the stages passed; `nil` for a rule's chain, whose split branches to a backend's.
    let balancer: Balancer?
    /// A stage of the chain may retry: the body is kept for the replay.
    let replaysRequests: Bool
    /// A stage of the chain times attempts.
    let timesAttempts: Bool

    init(_ stages: [any HTTPStage], balancer: Balancer?) {
        self.stages = stages
        self.balancer = balancer
        self.replaysRequests = stages.contains { $0.replaysRequests }
        self.timesAttempts = stages.contains { $0.timesAttempts }
    }

    /// Discovery dropped the destination the balancer follows: the chain is built anew.
    var isEvicted: Bool {
        guard case .discovered(let destination, _)? = self.balancer?.source else { return false }
        return destination.entry.isEvicted
    }
}

@available(*, unavailable)
extension StageChain: Sendable {}
