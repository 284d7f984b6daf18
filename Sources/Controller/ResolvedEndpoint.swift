/// One endpoint of a destination as the Destination API sends it.
public struct ResolvedEndpoint: Hashable, Sendable {
    public enum ProtocolHint: Hashable, Sendable { case unknown, http2, opaque }

    public var ip: String
    public var port: Int
    public var weight: Int
    /// The workload's mesh identity; `nil` when no proxy runs beside it.
    public var identity: String?
    public var protocolHint: ProtocolHint
    public var labels: [String: String]

    public init(ip: String, port: Int, weight: Int = 10_000, identity: String?, protocolHint: ProtocolHint, labels: [String: String]) {
        self.ip = ip
        self.port = port
        self.weight = weight
        self.identity = identity
        self.protocolHint = protocolHint
        self.labels = labels
    }

    public var address: EndpointAddress { EndpointAddress(ip: self.ip, port: self.port) }
}

public struct EndpointAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var ip: String
    public var port: Int

    public init(ip: String, port: Int) {
        self.ip = ip
        self.port = port
    }

    public var description: String { self.ip.contains(":") ? "[\(self.ip)]:\(self.port)" : "\(self.ip):\(self.port)" }

    public static func < (a: EndpointAddress, b: EndpointAddress) -> Bool { (a.ip, a.port) < (b.ip, b.port) }
}

/// What a destination resolves to at one moment.
public enum DestinationResolution: Hashable, Sendable {
    /// The endpoints (never empty) and the labels they share.
    case endpoints([EndpointAddress: ResolvedEndpoint], labels: [String: String])
    /// No endpoint; `exists` tells whether the name is a Service at all.
    case noEndpoints(exists: Bool)
}
