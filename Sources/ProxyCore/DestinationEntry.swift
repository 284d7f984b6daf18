/// What discovery knows of one authority: its endpoints.
public enum DestinationState: Hashable, FollowedState {
    /// No answer yet.
    case pending
    case endpoints([DiscoveredEndpoint])
    /// Discovery answered: no endpoints. When `exists` is false the authority is not the mesh's, and other
    /// resolvers (static table, DNS) take over.
    case noEndpoints(exists: Bool)

    public var isPending: Bool { self == .pending }
}

/// One destination as discovery publishes it, shared by every event loop; each loop keeps its own balancer.
public typealias DestinationEntry = FollowedEntry<DestinationState>

/// Discovery as the data plane sees it: an entry per authority, created (and its discovery started) on first use.
public protocol DestinationLookup: Sendable {
    /// The entry of `authority` (lower-case `host:port`).
    func entry(for authority: String) -> DestinationEntry
}
