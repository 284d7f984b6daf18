/// Which listener a connection came through, as in Linkerd's `direction` label.
public enum TrafficDirection: Int, Hashable, Sendable, CaseIterable {
    case inbound = 0
    case outbound = 1

    public var label: String { self == .inbound ? "inbound" : "outbound" }
}
