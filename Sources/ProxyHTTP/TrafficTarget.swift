import ProxyCore

/// Where one connection or request goes, decided before any upstream work starts.
public struct TrafficTarget: Hashable, Sendable {
    /// The address dialled.
    public var endpoint: HostPort
    /// The `authority` metric label: the request's authority, or the original destination for raw TCP.
    public var authority: String
    /// The identity discovery gave the endpoint: the peer is a proxy, reached with mTLS, that must prove it.
    public var identity: String?

    public init(endpoint: HostPort, authority: String, identity: String? = nil) {
        self.endpoint = endpoint
        self.authority = authority
        self.identity = identity
    }

    public var upstreamKey: UpstreamKey { UpstreamKey(endpoint: self.endpoint, identity: self.identity) }
}

/// What an upstream connection is pooled by: its address, and the identity it was verified to have (a plaintext
/// connection and an mTLS one to the same address are different connections).
public struct UpstreamKey: Hashable, Sendable, CustomStringConvertible {
    public var endpoint: HostPort
    public var identity: String?

    public init(endpoint: HostPort, identity: String? = nil) {
        self.endpoint = endpoint
        self.identity = identity
    }

    public var description: String { self.endpoint.description }
}
