import ProxyCore

/// What a destination's chain is built for: the traffic's direction and the destination's name as routing knows it.
public struct StageTarget: Hashable, Sendable {
    public var direction: TrafficDirection
    /// The discovery key or the authority (`host:port`) of the destination.
    public var name: String
    /// `name` is a discovery key: the controller knows it, and may have a policy for it.
    public var discovered: Bool

    public init(direction: TrafficDirection, name: String, discovered: Bool = false) {
        self.direction = direction
        self.name = name
        self.discovered = discovered
    }
}
