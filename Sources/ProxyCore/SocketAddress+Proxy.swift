import NIOCore

extension SocketAddress {
    /// The peer is on this host: 127.0.0.0/8, `::1`, or 127/8 as a dual-stack socket maps it (`::ffff:127.x.y.z`).
    /// What only an operator on the node may reach (the admin's `/shutdown`, tap without mTLS) asks this.
    public var isLoopback: Bool {
        guard let ip = self.ipAddress else { return false }
        return ip == "::1" || ip.hasPrefix("127.") || ip.hasPrefix("::ffff:127.")
    }
}

extension HostPort {
    /// A socket's IP address and port; `nil` for a Unix socket.
    public init?(_ address: SocketAddress) {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        self.init(host: ip, port: port)
    }
}
