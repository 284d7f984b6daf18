import ArgumentParser
import Controller
import Demo
import Foundation
import Logging
import ProxyRuntime
import ServiceLifecycle

/// `swiftlet demo`: the whole mesh on this machine, with live golden metrics.
struct DemoCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Runs a controller, a small meshed application with one proxy per instance, load, and a live table of its metrics."
    )

    @Option(help: "Stop after this many seconds (default: until Ctrl-C).")
    var duration: Int?

    @Option(help: "Requests per second from the load generator.")
    var rps = 20

    func validate() throws {
        if let duration, duration <= 0 { throw ValidationError("--duration: must be positive (seconds), not \(duration)") }
        guard self.rps > 0 else { throw ValidationError("--rps: must be positive, not \(self.rps)") }
    }

    @Flag(help: "Put each instance in a network namespace of its own with iptables capture, as a pod (needs root).")
    var netns = false

    func execute() async throws {
        let executable = try Self.selfExecutable()
        var logger = Logger(label: "swiftlet-demo")
        logger.logLevel = .warning
        var options = DemoRunner.Options(
            duration: self.duration.map { .seconds($0) }, selfExecutable: executable, proxyCommand: Self.proxyCommand(next: executable)
        )
        options.requestsPerSecond = self.rps
        options.networkNamespaces = self.netns
        options.prometheus = LocalPrometheus.Configuration.findBinary() != nil
        let runner = DemoRunner(options: options, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup)],
                // Ctrl-C, a kill, or the terminal closing (SIGHUP): every child and namespace goes with the demo.
                gracefulShutdownSignals: [.sigint, .sigterm, .sighup], logger: logger
            )
        )
        try await group.run()
    }

    static func selfExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// The `swiftlet-proxy` built beside this binary (what ships), or — when there is none, as after `swift run
    /// swiftlet demo` in a fresh clone — this binary's own copy of the proxy (`swiftlet proxy`). The demo's header says
    /// which runs: it never falls back silently.
    static func proxyCommand(next executable: String) -> [String] {
        let sibling = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("swiftlet-proxy").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return [sibling] }
        return [executable, "proxy"]
    }
}

/// `swiftlet demo-app <role>`: one of the demo application's programs (hidden).
struct DemoAppCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-app", abstract: "A program of the demo application.", shouldDisplay: false)

    @Argument(help: "web, emoji, voting, voting-v2 or vote-bot")
    var role: String

    @Option(help: "Where the service listens (host:port).")
    var listen = "127.0.0.1:0"

    @Option(help: "The instance's outbound proxy (host:port), or `none` in a pod, where iptables captures what it dials.")
    var proxy = "127.0.0.1:4140"

    @Option(help: "Extra latency of each answer (voting, voting-v2).")
    var latencyMs = 0

    @Option(help: "Requests per second (vote-bot).")
    var rps = 20

    func execute() async throws {
        guard let role = DemoApp.Role(rawValue: self.role) else {
            throw ValidationError("role must be one of \(DemoApp.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let (listenHost, listenPort) = try ControllerCommand.address(self.listen, option: "--listen")
        let proxy = self.proxy == "none" ? nil : try ControllerCommand.address(self.proxy, option: "--proxy")
        try await withGracefulShutdownOnSignals {
            try await DemoApp.run(
                role, listenHost: listenHost, listenPort: listenPort, proxy: proxy.map { (host: $0.0, port: $0.1) },
                latencyMilliseconds: self.latencyMs, requestsPerSecond: self.rps
            )
        }
    }
}

/// `swiftlet proxy`: the data plane, as `swiftlet-proxy` runs it (hidden; the demo's fallback).
struct ProxyCommand: AsyncCommand {
    static let configuration = CommandConfiguration(commandName: "proxy", abstract: "Runs swiftlet-proxy.", shouldDisplay: false)

    func execute() async throws {
        let status = await ProxyMain.run(arguments: [], environment: ProcessInfo.processInfo.environment)
        if status != 0 { throw ExitCode(status) }
    }
}
