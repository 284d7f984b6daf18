import ProxyCore

/// The stages of one destination, route rule or backend, in order, and the balancer its attempts go to.
public final class StageChain {
    public let stages: [any HTTPStage]
    /// Where attempts go once the stages passed; `nil` for a rule's chain, whose split branches to a backend's.
    let balancer: Balancer?
    /// A stage of the chain may retry: the body is kept for the replay.
    let replaysRequests: Bool
    /// A stage of the chain times attempts.
    let timesAttempts: Bool
    /// What the chain is, for tap: a rule's route (`route_*`, `parent_*`), a backend (`backend_*`); none for a
    /// destination's.
    let labels: [MetricLabel]
    /// The first stage, when it can sit requests out (`IdleStage`).
    let idleHead: (any IdleStage)?

    init(_ stages: [any HTTPStage], balancer: Balancer?, labels: [MetricLabel] = []) {
        self.stages = stages
        self.balancer = balancer
        self.labels = labels
        self.replaysRequests = stages.contains { $0.replaysRequests }
        self.timesAttempts = stages.contains { $0.timesAttempts }
        self.idleHead = stages.first as? any IdleStage
    }

    /// Discovery dropped the destination the balancer follows: the chain is built anew.
    var isEvicted: Bool {
        guard case .discovered(let destination, _)? = self.balancer?.source else { return false }
        return destination.entry.isEvicted
    }
}

@available(*, unavailable)
extension StageChain: Sendable {}
