/// The iptables rules that put a pod's traffic through its proxy, as Linkerd's proxy-init writes them: inbound TCP
/// (but the ports skipped) to the inbound listener; outbound TCP (but the proxy's own, loopback's and the ports
/// skipped) to the outbound listener.
///
/// One definition for the three places that write them: `swiftlet-proxy init` (the injected init container), the
/// demo's network-namespace pods, and the end-to-end tests.
public struct ProxyInitRules: Hashable, Sendable {
    /// A port or an inclusive range of ports (`8000-8100`).
    public struct PortRange: Hashable, Sendable, CustomStringConvertible {
        public var lower: Int
        public var upper: Int

        public init(_ port: Int) { (self.lower, self.upper) = (port, port) }
        public init(_ lower: Int, _ upper: Int) { (self.lower, self.upper) = (lower, upper) }

        public var description: String { self.lower == self.upper ? "\(self.lower)" : "\(self.lower)-\(self.upper)" }
        /// As iptables' multiport writes a range.
        var iptables: String { self.lower == self.upper ? "\(self.lower)" : "\(self.lower):\(self.upper)" }
        /// multiport counts a range as two of its fifteen ports.
        var weight: Int { self.lower == self.upper ? 1 : 2 }
    }

    public static let inboundChain = "PROXY_INIT_REDIRECT"
    public static let outboundChain = "PROXY_INIT_OUTPUT"

    public var inboundPort = 4143
    public var outboundPort = 4140
    public var proxyUID = 2102
    /// Inbound ports that reach the pod without the proxy: always the proxy's admin (4191) and tap (4190) ports.
    public var skipInboundPorts: [PortRange] = [PortRange(4190), PortRange(4191)]
    public var skipOutboundPorts: [PortRange] = []

    public init() {}

    /// Each rule as the arguments of one `iptables` call, in order.
    public var iptablesArguments: [[String]] {
        var rules: [[String]] = [["-t", "nat", "-N", Self.inboundChain]]
        for ports in Self.multiportGroups(self.skipInboundPorts) {
            rules.append(["-t", "nat", "-A", Self.inboundChain, "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "RETURN"])
        }
        rules.append(["-t", "nat", "-A", Self.inboundChain, "-p", "tcp", "-j", "REDIRECT", "--to-port", String(self.inboundPort)])
        rules.append(["-t", "nat", "-A", "PREROUTING", "-j", Self.inboundChain])
        rules.append(["-t", "nat", "-N", Self.outboundChain])
        rules.append(["-t", "nat", "-A", Self.outboundChain, "-m", "owner", "--uid-owner", String(self.proxyUID), "-j", "RETURN"])
        rules.append(["-t", "nat", "-A", Self.outboundChain, "-o", "lo", "-j", "RETURN"])
        for ports in Self.multiportGroups(self.skipOutboundPorts) {
            rules.append(["-t", "nat", "-A", Self.outboundChain, "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "RETURN"])
        }
        rules.append(["-t", "nat", "-A", Self.outboundChain, "-p", "tcp", "-j", "REDIRECT", "--to-port", String(self.outboundPort)])
        rules.append(["-t", "nat", "-A", "OUTPUT", "-j", Self.outboundChain])
        return rules
    }

    /// Ports joined for `-m multiport --dports`, fifteen at most per rule (the module's limit).
    static func multiportGroups(_ ports: [PortRange]) -> [String] {
        var groups: [[PortRange]] = []
        var weight = 0
        for port in ports {
            if groups.isEmpty || weight + port.weight > 15 {
                groups.append([])
                weight = 0
            }
            groups[groups.count - 1].append(port)
            weight += port.weight
        }
        return groups.map { $0.map(\.iptables).joined(separator: ",") }
    }

    /// `80,443,8000-8100` (spaces allowed, empty for none), as the `config.swiftlet.io/skip-*-ports` annotations
    /// and `swiftlet-proxy init`'s flags take them.
    public static func ports(_ text: String) throws(ConfigError) -> [PortRange] {
        var ranges: [PortRange] = []
        for item in text.split(separator: ",") {
            let item = item.trimmingASCIISpaces()
            guard !item.isEmpty else { continue }
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2, let lower = Int(bounds[0]), let upper = Int(bounds.last!), (1...65535).contains(lower),
                (lower...65535).contains(upper)
            else {
                throw ConfigError(value: String(text), reason: "\"\(item)\" is not a port (1-65535) or a range of ports (low-high)")
            }
            ranges.append(PortRange(lower, upper))
        }
        return ranges
    }
}
