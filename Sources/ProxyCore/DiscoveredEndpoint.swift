/// An endpoint as discovery describes it.
public struct DiscoveredEndpoint: Hashable, Sendable {
    public enum ProtocolHint: Hashable, Sendable { case unknown, http2, opaque }

    public var address: HostPort
    /// Relative weight; 10000 is the default.
    public var weight: Int
    public var identity: String?
    public var protocolHint: ProtocolHint
    /// `dst_*` metric labels, sorted by name.
    public var labels: [MetricLabel]

    public init(
        address: HostPort, weight: Int = 10_000, identity: String? = nil, protocolHint: ProtocolHint = .unknown, labels: [MetricLabel] = []
    ) {
        self.address = address
        self.weight = weight
        self.identity = identity
        self.protocolHint = protocolHint
        self.labels = labels
    }
}

/// One extra metric label (`dst_service="web"`).
public struct MetricLabel: Hashable, Sendable, Comparable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public static func < (a: MetricLabel, b: MetricLabel) -> Bool { (a.name, a.value) < (b.name, b.value) }
}
