import Foundation
import Logging
import ServiceLifecycle

/// `swiftlet demo`: a controller over a generated directory of YAML, the demo application with one proxy per
/// instance, a load generator, and a live table of golden metrics read from the proxies. Every child process is
/// gone when it returns, whether the duration ran out or the user pressed Ctrl-C.
public struct DemoRunner: Service {
    public struct Options: Sendable {
        public var duration: Duration?
        public var refresh: Duration = .seconds(2)
        public var requestsPerSecond = 20
        /// The `swiftlet` binary (for the controller and the demo's programs).
        public var selfExecutable: String
        /// How to start a proxy: a `swiftlet-proxy` binary, or `swiftlet proxy`.
        public var proxyCommand: [String]
        /// Each instance in a network namespace of its own, with iptables capture and a transparent proxy.
        public var networkNamespaces = false
        /// The controller runs the system's Prometheus (`swiftlet controller --prometheus`): there is one to run.
        public var prometheus = false

        public init(duration: Duration?, selfExecutable: String, proxyCommand: [String]) {
            self.duration = duration
            self.selfExecutable = selfExecutable
            self.proxyCommand = proxyCommand
        }
    }

    let options: Options
    let logger: Logger
    /// When the demo turns retries on for `voting`, so the table shows the success rate before and after.
    static let retriesAfter = Duration.seconds(10)

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() async throws {
        let created = self.options.networkNamespaces ? try PodNetwork.create() : nil
        let network = created?.network
        if let swept = created?.swept { print(swept) }
        let topology = try network.map { try DemoTopology.make(in: $0) } ?? DemoTopology.make()
        var pods: [String] = []
        defer { network?.remove(pods: pods) }
        if let network {
            for (index, instance) in topology.instances.enumerated() {
                pods.append(instance.name)
                try network.addPod(instance.name, index: index, hosts: topology.hostsFile())
            }
        }
        let directory = NSTemporaryDirectory() + "swiftlet-demo-\(getpid())"
        let manifests = directory + "/manifests"
        let logs = directory + "/logs"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        for (name, text) in topology.manifests() {
            try text.write(toFile: manifests + "/" + name, atomically: true, encoding: .utf8)
        }
        var tokens = try DemoTokens(
            directory: directory, namespace: DemoTopology.namespace, proxyUID: network == nil ? nil : PodNetwork.proxyUID)
        let anchorsFile = directory + "/trust-anchors.pem"
        let children = ChildProcesses(logDirectory: logs)
        defer { children.stopAll() }
        var succeeded = false
        defer {
            // A clean run leaves nothing behind; a failed one keeps its logs for the person reading the error.
            if succeeded { try? FileManager.default.removeItem(atPath: directory) }
        }

        try children.start(
            "controller", self.options.selfExecutable,
            [
                "controller", "--manifests", manifests, "--destination-addr", "\(topology.controllerHost):\(topology.controllerPort)",
                "--admin-addr", "127.0.0.1:\(topology.controllerAdminPort)", "--tap-addr", "127.0.0.1:\(topology.controllerTapPort)",
                "--log-level", "warning",
                // The anchor and issuer are made inside the controller; only the anchor's certificate comes out.
                "--identity-addr", "\(topology.controllerHost):\(topology.identityPort)", "--identity-trust-anchors-out", anchorsFile,
                "--identity-tokens", tokens.controllerDirectory,
            ]
                + (self.options.prometheus
                    ? [
                        "--prometheus", "127.0.0.1:\(topology.prometheusPort)", "--prometheus-dir", directory + "/prometheus",
                        "--dashboard", "127.0.0.1:\(topology.dashboardPort)",
                    ] : [])
        )
        try await children.waitForPort(topology.controllerPort, host: topology.controllerHost, of: "controller")
        try await children.waitForPort(topology.identityPort, host: topology.controllerHost, of: "controller")
        let anchors = try String(contentsOfFile: anchorsFile, encoding: .utf8)
        for instance in topology.instances {
            var environment = [
                "SWIFTLET_PROXY_DESTINATION_ADDR": "\(topology.controllerHost):\(topology.controllerPort)",
                "SWIFTLET_PROXY_NAMESPACE": DemoTopology.namespace,
                "SWIFTLET_PROXY_WORKLOAD": instance.name,
                "SWIFTLET_PROXY_WORKER_THREADS": "1",
                "SWIFTLET_PROXY_SHUTDOWN_GRACE_PERIOD": "2s",
                "SWIFTLET_PROXY_LOG": "warning",
                "SWIFTLET_PROXY_TAP_SVC_NAME": DemoTopology.tapIdentity,
                "SWIFTLET_PROXY_IDENTITY_ADDR": "\(topology.controllerHost):\(topology.identityPort)",
                "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": DemoTopology.identity(of: instance),
                "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": anchors,
                "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": try tokens.podToken(instance: instance.name, serviceAccount: instance.role.rawValue),
            ]
            var command = self.options.proxyCommand
            if let network {
                // A pod's proxy: transparent, on Linkerd's ports, as the user iptables lets through.
                environment["SWIFTLET_PROXY_MODE"] = "transparent"
                environment["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR"] = "0.0.0.0:\(instance.inboundPort)"
                environment["SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR"] = "127.0.0.1:\(instance.outboundPort)"
                environment["SWIFTLET_PROXY_ADMIN_LISTEN_ADDR"] = "0.0.0.0:\(instance.adminPort)"
                environment["SWIFTLET_PROXY_TAP_LISTEN_ADDR"] = "0.0.0.0:\(instance.tapPort)"
                command = network.exec(in: instance.name, asProxy: true) + command
            } else {
                environment["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR"] = "127.0.0.1:\(instance.inboundPort)"
                environment["SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR"] = "127.0.0.1:\(instance.outboundPort)"
                environment["SWIFTLET_PROXY_ADMIN_LISTEN_ADDR"] = "127.0.0.1:\(instance.adminPort)"
                environment["SWIFTLET_PROXY_TAP_LISTEN_ADDR"] = "127.0.0.1:\(instance.tapPort)"
                environment["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR"] = "127.0.0.1:\(instance.appPort)"
            }
            try children.start("proxy-\(instance.name)", command[0], Array(command.dropFirst()), environment: environment)
        }
        /// The demo's own programs, inside their pod with `--netns`.
        func app(_ instance: DemoTopology.Instance, _ arguments: [String]) throws {
            let command =
                (network?.exec(in: instance.name) ?? []) + [self.options.selfExecutable, "demo-app", instance.role.rawValue] + arguments
            try children.start(instance.name, command[0], Array(command.dropFirst()))
        }
        let proxyOption = { (instance: DemoTopology.Instance) in network == nil ? "127.0.0.1:\(instance.outboundPort)" : "none" }
        for instance in topology.instances where instance.role != .voteBot {
            try app(
                instance,
                [
                    "--listen", "\(network == nil ? "127.0.0.1" : "0.0.0.0"):\(instance.appPort)", "--proxy", proxyOption(instance),
                    "--latency-ms", String(instance.latencyMilliseconds),
                ]
            )
        }
        for instance in topology.instances {
            // Ready means certified: every call between the demo's services is mTLS from the first.
            try await children.waitForReady(instance.adminPort, host: instance.address, of: "proxy-\(instance.name)")
            // In a pod the application's port is the proxy's to answer first; the proxy's readiness is enough.
            if instance.role != .voteBot, network == nil { try await children.waitForPort(instance.appPort, of: instance.name) }
        }
        let bot = topology.instances.first { $0.role == .voteBot }!
        try app(bot, ["--proxy", proxyOption(bot), "--rps", String(self.options.requestsPerSecond)])

        let web = topology.instances.first { $0.role == .web }!
        let frontEnd =
            network == nil
            ? "curl -H 'Host: web.emojivoto:80' http://127.0.0.1:\(web.inboundPort)/"
            : "curl http://\(web.address):\(web.appPort)/  (its pod's proxy captures it)"
        let proxies = topology.instances.filter { $0.role != .voteBot }
        let admin =
            network == nil
            ? proxies.map { "\($0.name) :\($0.adminPort)" }.joined(separator: " ")
            : "http://<pod>:4191/metrics: " + proxies.map { "\($0.name) \($0.address)" }.joined(separator: ", ")
        let proxyBinary =
            self.options.proxyCommand.count == 1
            ? self.options.proxyCommand[0]
            : "`swiftlet proxy`, the copy inside swiftlet: no swiftlet-proxy beside it (swift build --product swiftlet-proxy)"
        let screen = DemoScreen(
            title: "Swiftlet demo: emojivoto \(network == nil ? "on loopback" : "in network namespaces"), mTLS; Ctrl-C stops it",
            lines: [
                ("web", frontEnd),
                ("files", "\(directory)/{manifests,logs} (edits apply live)"),
                ("admin", admin + "; controller :\(topology.controllerAdminPort)"),
                ("proxy", proxyBinary),
                ("tap", "swiftlet viz tap deploy/web -n \(DemoTopology.namespace) --tap-addr 127.0.0.1:\(topology.controllerTapPort)"),
                ("top", "swiftlet viz top deploy/web -n \(DemoTopology.namespace) --tap-addr 127.0.0.1:\(topology.controllerTapPort)"),
                self.options.prometheus
                    ? ("metrics", "Prometheus http://127.0.0.1:\(topology.prometheusPort) (scrapes every proxy every 10 s)")
                    : ("metrics", "no `prometheus` on PATH: apt-get install prometheus, and the demo runs it (for viz stat)"),
                (
                    "stat",
                    "swiftlet viz stat deploy -n \(DemoTopology.namespace)"
                        + (topology.prometheusPort == DemoTopology.defaultPrometheusPort || !self.options.prometheus
                            ? "" : " --prometheus-url http://127.0.0.1:\(topology.prometheusPort)")
                ),
                self.options.prometheus
                    ? ("dashboard", "http://127.0.0.1:\(topology.dashboardPort)  (swiftlet viz dashboard opens it)")
                    : ("dashboard", "with Prometheus"),
            ]
        )
        let plan =
            "voting: 500 for 1 in 20, slow for 1 in 10; emoji: NOT_FOUND for :poop:; route-voting.yaml is a 90/10 canary; "
            + "retries on voting at 0:\(Int(Self.retriesAfter.components.seconds))"
        let stats = MeshStats(topology: topology)
        let events = ManifestEvents(controllerAdmin: topology.controllerAdminPort)
        let started = ContinuousClock.now
        // A first scrape, so that the first table already has rates.
        _ = await stats.refresh()
        _ = await events.poll(now: started, clock: "")
        if screen.isTerminal { print("\u{1B}[2J", terminator: "") }
        var retriesOn: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if let duration = self.options.duration, ContinuousClock.now - started >= duration { break }
            if retriesOn == nil, ContinuousClock.now - started >= Self.retriesAfter {
                // Linkerd's way, our prefix: an annotation on the Service, followed by every proxy sending to it.
                await events.demoWrote("services.yaml")
                try topology.servicesFile(retries: true).write(toFile: manifests + "/services.yaml", atomically: true, encoding: .utf8)
                retriesOn =
                    "\(DemoScreen.clock(since: started).prefix(8)) retries on: services.yaml annotates voting retry.swiftlet.io/http: 5xx"
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.options.refresh) }
            if Task.isShuttingDownGracefully { break }
            if let dead = children.exited() { throw DemoError("\(dead) exited; see \(logs)/\(dead).log") }
            let table = await stats.refresh()
            let clock = DemoScreen.clock(since: started)
            // The user's edits first; then what the demo itself did; at first, what it will do.
            let event = await events.poll(now: ContinuousClock.now, clock: String(clock.prefix(8))) ?? retriesOn ?? plan
            print(screen.frame(clock: clock, event: event, table: table))
        }
        print(await stats.summary())
        succeeded = true
    }
}
