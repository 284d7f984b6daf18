import NIOCore

extension SocketAddress {
    /// A client on this host (loopback, or IPv4 loopback mapped into IPv6): what only an operator of the machine, or
    /// a `kubectl port-forward`, can be — the controller's admin `/debug/*` and its local tap API answer no one else.
    var isLoopbackClient: Bool {
        guard let ip = self.ipAddress else { return false }
        return ip == "::1" || ip.hasPrefix("127.") || ip.hasPrefix("::ffff:127.")
    }
}
