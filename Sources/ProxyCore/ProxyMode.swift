/// How the proxy learns where a connection was going.
public enum ProxyMode: String, Sendable, CaseIterable {
    /// iptables redirects traffic to the proxy; the original destination comes from `SO_ORIGINAL_DST`.
    case transparent
    /// Clients connect to the proxy on purpose; outbound destinations come from the request's authority and
    /// inbound traffic goes to the configured application address.
    case explicit
}
