import NIOCore
import ProxyCore

/// Decides the endpoint of a connection or request from the mode, the listener and what the client said.
///
/// Until discovery arrives this is the whole of routing: the original destination in transparent mode; the
/// configured application inbound in explicit mode; the static table, then DNS, for explicit outbound.
public struct TargetResolver: Sendable {
    public let mode: ProxyMode
    public let inboundForward: HostPort
    public let staticDestinations: [HostPort: [HostPort]]

    public init(config: ProxyConfig) {
        self.mode = config.mode
        self.inboundForward = config.inboundForward
        self.staticDestinations = config.staticDestinations
    }

    /// The destination of a connection before anything is read: known in transparent mode and for explicit
    /// inbound; `nil` for explicit outbound, where only the request names it.
    public func connectionDestination(direction: TrafficDirection, originalDestination: SocketAddress?) -> HostPort? {
        switch (self.mode, direction) {
        case (.transparent, _):
            return originalDestination.flatMap(HostPort.init)
        case (.explicit, .inbound):
            return self.inboundForward
        case (.explicit, .outbound):
            return nil
        }
    }

    /// The name discovery is asked about for outbound traffic (lower-case `host:port`), or `nil` when discovery has
    /// no say. Transparent mode asks about the original destination (a service's cluster IP); explicit mode about
    /// the request's authority unless the static table names it or it is an address.
    public func discoveryKey(direction: TrafficDirection, authority: String?, connectionDestination: HostPort?) -> String? {
        guard direction == .outbound else { return nil }
        if self.mode == .transparent { return connectionDestination?.description }
        guard connectionDestination == nil, let authority, let named = HostPort(parsing: authority, defaultPort: 80) else { return nil }
        let key = HostPort(host: named.host.lowercased(), port: named.port)
        guard self.staticDestinations[key] == nil, !Self.isAddressLiteral(key.host) else { return nil }
        return key.description
    }

    static func isAddressLiteral(_ host: String) -> Bool {
        host.contains(":") || host.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") }
    }

    /// The target of an HTTP request whose authority is `authority` (Host or `:authority`), given the
    /// connection's destination if it has one. `pick` chooses among several static endpoints.
    public func requestTarget(
        authority: String?,
        connectionDestination: HostPort?,
        pick: (Int) -> Int
    ) throws(ProxyError) -> TrafficTarget {
        if let destination = connectionDestination {
            return TrafficTarget(endpoint: destination, authority: authority ?? destination.description)
        }
        guard let authority, !authority.isEmpty else {
            throw ProxyError(.noRoute, "request has no Host or :authority to route by")
        }
        guard let named = HostPort(parsing: authority, defaultPort: 80) else {
            throw ProxyError(.noRoute, "cannot route authority '\(authority)'")
        }
        let key = HostPort(host: named.host.lowercased(), port: named.port)
        if let endpoints = self.staticDestinations[key] {
            return TrafficTarget(endpoint: endpoints[pick(endpoints.count)], authority: key.description)
        }
        return TrafficTarget(endpoint: key, authority: key.description)
    }
}
