import ProxyCore

/// Where one connection or request goes, decided before any upstream work starts.
public struct TrafficTarget: Hashable, Sendable {
    /// The address dialled.
    public var endpoint: HostPort
    /// The `authority` metric label: the request's authority, or the original destination for raw TCP.
    public var authority: String

    public init(endpoint: HostPort, authority: String) {
        self.endpoint = endpoint
        self.authority = authority
    }
}
