import Foundation
import Testing

/// A running `swiftlet-proxy` on ephemeral loopback ports.
final class ProxyProcess: @unchecked Sendable {
    let child: ChildProcess
    let inboundPort: Int
    let outboundPort: Int
    let adminPort: Int
    /// The tap server's port; 0 when tap is off.
    let tapPort: Int

    static func start(_ environment: [String: String] = [:], prefix: [String] = []) async throws -> ProxyProcess {
        var env = [
            "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "127.0.0.1:0",
            "SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:0",
            "SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "127.0.0.1:0",
            "SWIFTLET_PROXY_TAP_LISTEN_ADDR": "127.0.0.1:0",
            "SWIFTLET_PROXY_SHUTDOWN_GRACE_PERIOD": "10s",
            "SWIFTLET_PROXY_LOG": "info",
        ]
        for (key, value) in environment { env[key] = value }
        let child: ChildProcess
        if prefix.isEmpty {
            child = try ChildProcess(E2E.proxyBinary, [], environment: env, name: "swiftlet-proxy")
        } else {
            child = try ChildProcess(prefix[0], Array(prefix.dropFirst()) + [E2E.proxyBinary], environment: env, name: "swiftlet-proxy")
        }
        // Its addresses: in the line that says it is ready, or (with an identity, before its certificate) listening.
        let line = try await child.waitForLine(
            where: { $0.contains("swiftlet-proxy ready") || $0.contains("swiftlet-proxy listening") }, describedAs: "its listeners")
        func port(_ key: String) throws -> Int {
            guard let token = line.split(separator: " ").first(where: { $0.hasPrefix("\(key)=") }),
                let colon = token.lastIndex(of: ":"), let port = Int(token[token.index(after: colon)...])
            else { throw HarnessError("no \(key) port in '\(line)'") }
            return port
        }
        return ProxyProcess(
            child: child, inbound: try port("inbound"), outbound: try port("outbound"), admin: try port("admin"),
            tap: (try? port("tap")) ?? 0)
    }

    private init(child: ChildProcess, inbound: Int, outbound: Int, admin: Int, tap: Int) {
        self.child = child
        self.tapPort = tap
        self.inboundPort = inbound
        self.outboundPort = outbound
        self.adminPort = admin
    }

    func metrics() async throws -> String {
        let result = try await run("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(self.adminPort)/metrics"])
        guard result.status == 0 else { throw HarnessError("metrics scrape failed: \(result.output)") }
        return result.output
    }

    /// The sum of a family's samples whose label text contains every fragment in `matching`.
    func metric(_ family: String, _ matching: String...) async throws -> Double {
        Metrics.sum(try await self.metrics(), family, matching)
    }

    /// Waits until a family's matching samples sum to at least 1 (what the proxy counts is seen from outside only
    /// by asking), for up to five seconds.
    func waitForMetric(_ family: String, _ matching: String...) async throws {
        for _ in 0..<250 {
            if Metrics.sum(try await self.metrics(), family, matching) >= 1 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("\(family) \(matching) never reached 1")
    }

    /// Peak resident set size (VmHWM) in MiB.
    var peakRSSMiB: Double { Metrics.procStatus(self.child.pid, "VmHWM") / 1024 }
    var rssMiB: Double { Metrics.procStatus(self.child.pid, "VmRSS") / 1024 }

    func stop() { self.child.stop() }
}

enum Metrics {
    static func sum(_ text: String, _ family: String, _ matching: [String]) -> Double {
        var total = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix(family + "{") || line.hasPrefix(family + " ") {
            guard matching.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else {
                continue
            }
            total += value
        }
        return total
    }

    static func procStatus(_ pid: Int32, _ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}

/// One of the Python fixtures in Tests/Fixtures, started and awaited until it listens.
final class FixtureProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    static func start(_ script: String, _ arguments: [String] = []) async throws -> FixtureProcess {
        let path = E2E.fixtures.appendingPathComponent(script).path
        let child = try ChildProcess(E2E.python, ["-u", path] + arguments, name: script)
        let line = try await child.waitForLine(containing: "LISTENING")
        guard let port = line.split(separator: " ").last.flatMap({ Int($0) }) else { throw HarnessError("bad line \(line)") }
        return FixtureProcess(child: child, port: port)
    }

    private init(child: ChildProcess, port: Int) {
        self.child = child
        self.port = port
    }
}

/// nginx as a real upstream: HTTP/1.1 on `port`, prior-knowledge HTTP/2 (h2c) on `h2Port`, serving `root`.
final class NginxProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int
    let h2Port: Int
    let root: URL

    static func start() async throws -> NginxProcess {
        try E2E.need("nginx")
        let directory = try E2E.temporaryDirectory()
        let root = directory.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try "hello from nginx\n".write(to: root.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        let port = E2E.freePort()
        let h2Port = E2E.freePort()
        let config = """
            worker_processes 1;
            error_log \(directory.path)/error.log warn;
            pid \(directory.path)/nginx.pid;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path \(directory.path)/body;
                proxy_temp_path \(directory.path)/proxy;
                fastcgi_temp_path \(directory.path)/fastcgi;
                uwsgi_temp_path \(directory.path)/uwsgi;
                scgi_temp_path \(directory.path)/scgi;
                keepalive_requests 1000000;
                server {
                    listen 127.0.0.1:\(port);
                    listen 127.0.0.1:\(h2Port) http2;
                    root \(root.path);
                    location / { }
                }
            }
            """
        let configPath = directory.appendingPathComponent("nginx.conf")
        try config.write(to: configPath, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            E2E.which("nginx")!, ["-p", directory.path, "-c", configPath.path, "-g", "daemon off;"], name: "nginx")
        child.stopSignal = SIGTERM
        try await waitForPort(port)
        try await waitForPort(h2Port)
        return NginxProcess(child: child, port: port, h2Port: h2Port, root: root)
    }

    private init(child: ChildProcess, port: Int, h2Port: Int, root: URL) {
        self.child = child
        self.port = port
        self.h2Port = h2Port
        self.root = root
    }
}

/// Connects until `port` accepts (nginx prints nothing when it is ready), up to ten seconds.
func waitForPort(_ port: Int, host: String = "127.0.0.1") async throws {
    for _ in 0..<500 {
        let result = try await run("curl", ["-s", "-o", "/dev/null", "--max-time", "1", "http://\(host):\(port)/"])
        if result.status != 7 { return }  // 7: could not connect
        try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("nothing listens on \(host):\(port)")
}

/// `swiftlet controller` over a directory of manifests.
final class ControllerProcess: @unchecked Sendable {
    let child: ChildProcess
    let destinationPort: Int
    let adminPort: Int
    let identityPort: Int?
    let injectorPort: Int?
    let tapPort: Int?

    static var binary: String {
        for candidate in [".build/debug/swiftlet", ".build/release/swiftlet"] {
            let path = E2E.packageRoot.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return E2E.packageRoot.appendingPathComponent(".build/debug/swiftlet").path
    }

    /// A controller over `manifests`, every listener on an ephemeral loopback port (identity too, unless `extra`
    /// says otherwise). The Destination API is plaintext for proxies without an identity (tests of discovery
    /// alone), mTLS for a meshed test.
    static func start(
        manifests: URL, destinationPort: Int = 0, identityPort: Int = 0, meshedDiscovery: Bool = false, extra: [String] = []
    ) async throws -> ControllerProcess {
        try await Self.start(
            source: ["--manifests", manifests.path], destinationPort: destinationPort, identityPort: identityPort,
            meshedDiscovery: meshedDiscovery,
            extra: extra
        )
    }

    /// A controller over `source` (`--manifests DIR` or `--kubeconfig FILE`), its ports read from its ready line.
    static func start(
        source: [String], destinationPort: Int = 0, identityPort: Int = 0, meshedDiscovery: Bool = false, extra: [String] = []
    ) async throws -> ControllerProcess {
        let child = try ChildProcess(
            Self.binary,
            ["controller"] + source + [
                "--destination-addr", "127.0.0.1:\(destinationPort)", "--admin-addr", "127.0.0.1:0", "--tap-addr", "127.0.0.1:0",
                "--identity-addr",
                "127.0.0.1:\(identityPort)",
            ] + (meshedDiscovery ? [] : ["--destination-plaintext"]) + extra,
            name: "swiftlet controller"
        )
        child.stopSignal = SIGTERM
        let line = try await child.waitForLine(containing: "swiftlet controller ready")
        func port(_ key: String) throws -> Int {
            guard let token = line.split(separator: " ").first(where: { $0.hasPrefix("\(key)=") }),
                let port = Int(token.split(separator: "=").last ?? "")
            else { throw HarnessError("no \(key) port in '\(line)'") }
            return port
        }
        return ControllerProcess(
            child: child, destinationPort: try port("destination"), adminPort: try port("admin"), identityPort: try? port("identity"),
            injectorPort: try? port("injector"), tapPort: try? port("tap")
        )
    }

    private init(child: ChildProcess, destinationPort: Int, adminPort: Int, identityPort: Int?, injectorPort: Int?, tapPort: Int?) {
        self.child = child
        self.tapPort = tapPort
        self.injectorPort = injectorPort
        self.destinationPort = destinationPort
        self.adminPort = adminPort
        self.identityPort = identityPort
    }

    func metric(_ family: String) async throws -> Double {
        let result = try await run("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(self.adminPort)/metrics"])
        return Metrics.sum(result.output, family, [])
    }
}

/// Tests/Fixtures/load.py: steady keep-alive load, counted by the upstream that served each request.
final class LoadProcess: @unchecked Sendable {
    let child: ChildProcess

    struct Stats: Sendable {
        var ok = 0
        var failed = 0
        var byPort: [Int: Int] = [:]

        init(_ line: Substring) {
            for field in line.split(separator: " ") {
                let parts = field.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "ok": self.ok = Int(parts[1]) ?? 0
                case "failed": self.failed = Int(parts[1]) ?? 0
                case "by":
                    for entry in parts[1].split(separator: ",") {
                        let pair = entry.split(separator: ":")
                        if pair.count == 2, let port = Int(pair[0]), let count = Int(pair[1]) { self.byPort[port] = count }
                    }
                default: break
                }
            }
        }
    }

    convenience init(port: Int, authority: String, path: String = "/", connections: Int = 4) throws {
        try self.init(target: String(port), authority: authority, path: path, connections: connections)
    }

    /// Load on `target` (`host:port`), run behind `prefix` (`ip netns exec <pod>`).
    init(target: String, authority: String, path: String = "/", connections: Int = 4, prefix: [String] = []) throws {
        let script = E2E.fixtures.appendingPathComponent("load.py").path
        let command = prefix + [E2E.python, "-u", script, target, authority, path, String(connections)]
        self.child = try ChildProcess(command[0], Array(command.dropFirst()), name: "load.py")
    }

    /// Waits for a progress line whose stats satisfy `condition`, and returns them.
    @discardableResult
    func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: @escaping @Sendable (Stats) -> Bool) async throws -> Stats {
        let line = try await self.child.waitForLine(
            where: { $0.hasPrefix("STATS ") && condition(Stats($0)) }, describedAs: what, timeout: timeout
        )
        return Stats(Substring(line))
    }

    /// Stops the load and returns the final counts.
    func finish() async throws -> Stats {
        self.child.closeInput()
        let line = try await self.child.waitForLine(containing: "FINAL ", timeout: .seconds(30))
        return Stats(Substring(line))
    }

    var failures: [String] { self.child.text.split(separator: "\n").filter { $0.hasPrefix("FAILURE") }.map(String.init) }
}
