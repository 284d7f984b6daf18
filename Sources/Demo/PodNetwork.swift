import Foundation
import MeshModel
import ProxyCore

/// `swiftlet demo --netns`: each instance in a network namespace of its own, as a pod is.
///
/// The namespaces hang off one bridge in the host's namespace (the "node"), whose address is every pod's default
/// gateway and where the controller listens. Each pod gets Linkerd proxy-init's iptables rules, so its application
/// knows nothing of its proxy: it dials a Service's cluster IP, found by name in the pod's `/etc/hosts` (which
/// `ip netns exec` mounts from `/etc/netns/<pod>/hosts`), and the proxy captures the connection.
final class PodNetwork: Sendable {
    /// The proxy's user: iptables lets its own traffic out uncaptured.
    static let proxyUID = 2102
    static let clusterIPPrefix = "10.96.0."

    /// Tells the demo's pods apart from a second demo's (and from leftovers of one that was killed): the demo's
    /// process id, which fits an interface name (`swlbr` and seven digits).
    let tag: String
    /// `10.244.<subnet>.0/24` holds the pods.
    let subnet: Int
    let bridge: String

    var gateway: String { "10.244.\(self.subnet).1" }

    func podAddress(_ index: Int) -> String { "10.244.\(self.subnet).\(10 + index)" }

    func namespace(of pod: String) -> String { "swl\(self.tag)-\(pod)" }

    /// The command prefix that runs a program inside `pod`; `asProxy` drops to the proxy's user first.
    func exec(in pod: String, asProxy: Bool = false) -> [String] {
        var prefix = [Self.tool("ip"), "netns", "exec", self.namespace(of: pod)]
        if asProxy {
            prefix += [Self.tool("setpriv"), "--reuid=\(Self.proxyUID)", "--regid=\(Self.proxyUID)", "--clear-groups"]
        }
        return prefix
    }

    private init(tag: String, subnet: Int) {
        self.tag = tag
        self.subnet = subnet
        self.bridge = "swlbr\(tag)"
    }

    /// Checks what the namespaces need (root, `ip`, `iptables`, `setpriv`), removes what demos that died without
    /// cleaning up left (`swept`, to be said), and makes the bridge.
    static func create() throws -> (network: PodNetwork, swept: String?) {
        guard getuid() == 0 else { throw DemoError("--netns needs root: it creates network namespaces and iptables rules") }
        for tool in ["ip", "iptables", "setpriv"] where Self.find(tool) == nil {
            throw DemoError(
                "--netns needs `\(tool)` (Debian: \(tool == "setpriv" ? "util-linux" : tool == "ip" ? "iproute2" : "iptables"))")
        }
        let swept = Self.sweepLeftovers()
        // A /24 no interface of this host uses yet.
        let addresses = try Self.run(Self.tool("ip"), ["-o", "-4", "addr", "show"])
        guard let subnet = (0..<250).first(where: { !addresses.contains("10.244.\($0).") }) else {
            throw DemoError("no free 10.244.x.0/24 subnet for the demo's pods")
        }
        let network = PodNetwork(tag: String(getpid()), subnet: subnet)
        do {
            try network.ip(["link", "add", network.bridge, "type", "bridge"])
            try network.ip(["addr", "add", "\(network.gateway)/24", "dev", network.bridge])
            try network.ip(["link", "set", network.bridge, "up"])
        } catch {
            network.remove(pods: [])
            throw error
        }
        return (network, swept)
    }

    /// Removes the namespaces, `/etc/netns` entries and bridges of demos whose process is gone (killed with SIGKILL,
    /// or a machine that lost power mid-run); says what it removed, or nil when there was nothing.
    static func sweepLeftovers() -> String? {
        let namespaces = ((try? Self.run(Self.tool("ip"), ["netns", "list"])) ?? "").split(separator: "\n").compactMap {
            $0.split(separator: " ").first.map(String.init)
        }
        let bridges = ((try? Self.run(Self.tool("ip"), ["-o", "link", "show", "type", "bridge"])) ?? "").split(separator: "\n").compactMap {
            line -> String? in
            let name = line.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces)
            return name.flatMap { $0.hasPrefix("swlbr") ? $0 : nil }
        }
        var byDemo: [String: (namespaces: [String], bridge: Bool)] = [:]
        for namespace in namespaces where namespace.hasPrefix("swl") {
            guard let dash = namespace.firstIndex(of: "-") else { continue }
            let tag = String(namespace[namespace.index(namespace.startIndex, offsetBy: 3)..<dash])
            guard Int(tag) != nil else { continue }
            byDemo[tag, default: ([], false)].namespaces.append(namespace)
        }
        for bridge in bridges where Int(bridge.dropFirst(5)) != nil {
            byDemo[String(bridge.dropFirst(5)), default: ([], false)].bridge = true
        }
        var removed: [String] = []
        for (tag, leftovers) in byDemo.sorted(by: { $0.key < $1.key }) where !Self.isDemoRunning(tag) {
            let network = PodNetwork(tag: tag, subnet: 0)
            network.remove(pods: leftovers.namespaces.map { String($0.dropFirst(3 + tag.count + 1)) })
            var parts: [String] = []
            if !leftovers.namespaces.isEmpty { parts.append("\(leftovers.namespaces.count) network namespaces") }
            if leftovers.bridge { parts.append("bridge \(network.bridge)") }
            removed.append("\(parts.joined(separator: " and ")) of a demo that did not clean up (pid \(tag))")
        }
        return removed.isEmpty ? nil : "removed " + removed.joined(separator: "; ")
    }

    /// Whether the demo of process `tag` still runs (a process of that id that is `swiftlet`).
    static func isDemoRunning(_ tag: String) -> Bool {
        guard let command = FileManager.default.contents(atPath: "/proc/\(tag)/cmdline") else { return false }
        return String(decoding: command, as: UTF8.self).contains("swiftlet")
    }

    /// A pod: a namespace with `eth0` on the bridge at `address`, a default route to the node, proxy-init's
    /// rules, and `hosts` as its `/etc/hosts`.
    func addPod(_ pod: String, index: Int, hosts: String) throws {
        let namespace = self.namespace(of: pod)
        let hostSide = "swv\(self.tag)x\(index)"
        let podSide = "swp\(self.tag)x\(index)"
        try self.ip(["netns", "add", namespace])
        try self.ip(["link", "add", hostSide, "type", "veth", "peer", "name", podSide])
        try self.ip(["link", "set", hostSide, "master", self.bridge, "up"])
        try self.ip(["link", "set", podSide, "netns", namespace])
        try self.inPod(pod, [Self.tool("ip"), "link", "set", podSide, "name", "eth0"])
        try self.inPod(pod, [Self.tool("ip"), "addr", "add", "\(self.podAddress(index))/24", "dev", "eth0"])
        try self.inPod(pod, [Self.tool("ip"), "link", "set", "eth0", "up"])
        try self.inPod(pod, [Self.tool("ip"), "link", "set", "lo", "up"])
        try self.inPod(pod, [Self.tool("ip"), "route", "add", "default", "via", self.gateway])
        // The rules `swiftlet-proxy init` writes in an injected pod, with the demo's proxy uid.
        var rules = ProxyInitRules()
        rules.proxyUID = Self.proxyUID
        for rule in rules.iptablesArguments {
            try self.inPod(pod, [Self.tool("iptables")] + rule)
        }
        let etc = "/etc/netns/\(namespace)"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try hosts.write(toFile: etc + "/hosts", atomically: true, encoding: .utf8)
    }

    /// Removes the pods (killing what still runs in them), their `/etc/netns` files and the bridge. Never throws:
    /// it runs on the way out, after whatever went wrong.
    func remove(pods: [String]) {
        for pod in pods {
            let namespace = self.namespace(of: pod)
            if let pids = try? Self.run(Self.tool("ip"), ["netns", "pids", namespace]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? Self.run(Self.tool("ip"), ["netns", "del", namespace])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace)")
        }
        _ = try? Self.run(Self.tool("ip"), ["link", "del", self.bridge])
    }

    private func ip(_ arguments: [String]) throws {
        _ = try Self.run(Self.tool("ip"), arguments)
    }

    private func inPod(_ pod: String, _ command: [String]) throws {
        _ = try Self.run(Self.tool("ip"), ["netns", "exec", self.namespace(of: pod)] + command)
    }

    static func tool(_ name: String) -> String { Self.find(name) ?? name }

    static func find(_ name: String) -> String? {
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a command to completion; its output, or an error quoting it.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DemoError(
                "\(([executable] + arguments).joined(separator: " ")) failed: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return output
    }
}
