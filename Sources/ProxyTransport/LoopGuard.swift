import NIOCore
import ProxyCore

/// Refuses destinations that are the proxy's own listeners.
///
/// With iptables capture, a client that dials the outbound port directly gets the proxy's own address back from
/// `SO_ORIGINAL_DST`; dialling it would make the proxy connect to itself until it runs out of descriptors.
public struct LoopGuard: Sendable {
    struct Listener: Hashable, Sendable {
        var ip: String
        var port: Int
    }

    var listeners: Set<Listener> = []
    var wildcardPorts: Set<Int> = []
    var localIPs: Set<String> = []

    /// `listeners` are the bound addresses; `localIPs` every address of this host, which a wildcard listener
    /// answers on.
    public init(listeners: [SocketAddress], localIPs: [String]) {
        for address in listeners {
            guard let ip = address.ipAddress, let port = address.port else { continue }
            if ip == "0.0.0.0" || ip == "::" {
                self.wildcardPorts.insert(port)
            } else {
                self.listeners.insert(Listener(ip: ip, port: port))
            }
        }
        self.localIPs = Set(localIPs)
    }

    public func isOwnListener(ip: String, port: Int) -> Bool {
        if self.listeners.contains(Listener(ip: ip, port: port)) { return true }
        guard self.wildcardPorts.contains(port) else { return false }
        return self.localIPs.contains(ip) || ip.hasPrefix("127.") || ip == "::1" || ip == "0.0.0.0"
    }

    public func isOwnListener(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress, let port = address.port else { return false }
        return self.isOwnListener(ip: ip, port: port)
    }

    /// Every address configured on this host's interfaces.
    public static func localAddresses() -> [String] {
        ((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress }
    }
}
