import MeshModel
import ProxyCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `swiftlet-proxy init`: the injected init container. Writes the pod's iptables rules (`ProxyInitRules`) with
/// the `iptables` the image carries, then exits; it runs as root with NET_ADMIN and NET_RAW only, before the proxy.
///
/// A pod's init containers run again when the pod's sandbox is recreated with its network namespace kept; the
/// rules are then already there, so finding our output chain means done (as Linkerd's proxy-init does).
enum ProxyInit {
    static let usage = """
        usage: swiftlet-proxy init [--inbound-port 4143] [--outbound-port 4140] [--proxy-uid 2102]
                                   [--skip-inbound-ports 80,8000-8100] [--skip-outbound-ports 25,3306]
                                   [--iptables iptables] [--dry-run]
        Ports 4190 and 4191 (the proxy's own) are always skipped inbound.

        """

    static func run(arguments: [String]) -> Int32 {
        var rules = ProxyInitRules()
        var iptables = "iptables"
        var dryRun = false
        var index = 0
        func value() -> String? {
            index += 1
            return index < arguments.count ? arguments[index] : nil
        }
        do throws(ConfigError) {
            while index < arguments.count {
                let flag = arguments[index]
                switch flag {
                case "--dry-run": dryRun = true
                case "--inbound-port", "--outbound-port", "--proxy-uid":
                    guard let text = value(), let number = Int(text), number > 0, number <= (flag == "--proxy-uid" ? Int(Int32.max) : 65535)
                    else {
                        throw ConfigError(value: index < arguments.count ? arguments[index] : "", reason: "\(flag) takes a number")
                    }
                    switch flag {
                    case "--inbound-port": rules.inboundPort = number
                    case "--outbound-port": rules.outboundPort = number
                    default: rules.proxyUID = number
                    }
                case "--skip-inbound-ports":
                    guard let text = value() else { throw ConfigError(value: "", reason: "\(flag) takes a list of ports") }
                    rules.skipInboundPorts += try ProxyInitRules.ports(text)
                case "--skip-outbound-ports":
                    guard let text = value() else { throw ConfigError(value: "", reason: "\(flag) takes a list of ports") }
                    rules.skipOutboundPorts += try ProxyInitRules.ports(text)
                case "--iptables":
                    guard let text = value(), !text.isEmpty else { throw ConfigError(value: "", reason: "\(flag) takes a program") }
                    iptables = text
                case "-h", "--help":
                    ProxyMain.writeStderr(Self.usage)
                    return 0
                default:
                    throw ConfigError(value: flag, reason: "unknown argument")
                }
                index += 1
            }
        } catch {
            ProxyMain.writeStderr("swiftlet-proxy init: \(error.value.isEmpty ? "" : error.value + ": ")\(error.reason)\n\(Self.usage)")
            return 2
        }
        if dryRun {
            for rule in rules.iptablesArguments { print(([iptables] + rule).joined(separator: " ")) }
            return 0
        }
        if Self.spawn([iptables, "-t", "nat", "-S", ProxyInitRules.outboundChain], quiet: true) == 0 {
            print("swiftlet-proxy init: the rules are already in place (chain \(ProxyInitRules.outboundChain) exists)")
            return 0
        }
        for rule in rules.iptablesArguments {
            let status = Self.spawn([iptables] + rule, quiet: false)
            guard status == 0 else {
                ProxyMain.writeStderr("swiftlet-proxy init: \(([iptables] + rule).joined(separator: " ")) failed (status \(status))\n")
                return 1
            }
        }
        print(
            "swiftlet-proxy init: inbound TCP to :\(rules.inboundPort) but ports "
                + "\(rules.skipInboundPorts.map(\.description).joined(separator: ",")); "
                + "outbound TCP to :\(rules.outboundPort) but uid \(rules.proxyUID), loopback"
                + (rules.skipOutboundPorts.isEmpty ? "" : " and ports \(rules.skipOutboundPorts.map(\.description).joined(separator: ","))")
        )
        return 0
    }

    /// Runs a program found on `PATH` and returns its exit status (127 when it cannot be started); `quiet` sends
    /// its output to /dev/null.
    static func spawn(_ argv: [String], quiet: Bool) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid = pid_t()
        guard posix_spawnp(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
