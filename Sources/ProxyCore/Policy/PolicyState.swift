/// What the Policy API says of one authority: the Service port's policy, compiled once for every loop, or that
/// the authority is no Service port (requests go as they would without policy).
public enum PolicyState: FollowedState {
    case pending
    case policy(CompiledPolicy)
    case none

    public var isPending: Bool {
        if case .pending = self { return true }
        return false
    }
}

/// One Service port's policy as the Policy API publishes it, shared by every event loop.
public typealias PolicyEntry = FollowedEntry<PolicyState>

/// The Policy API as the data plane sees it: an entry per authority, followed from first use until idle.
public protocol PolicyLookup: Sendable {
    /// The entry of `authority` (lower-case `host:port`, the same key discovery uses).
    func policy(for authority: String) -> PolicyEntry
}
