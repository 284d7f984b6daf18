import Logging
import NIOCore
import NIOPosix
import ProxyCore
import ProxyDiscovery
import ProxyIdentity
import ProxyTransport
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The proxy's entry point, shared by `swiftlet-proxy` and the demo's embedded copy (`swiftlet proxy`):
/// configuration from `SWIFTLET_PROXY_*` only. Returns the process's exit status.
public enum ProxyMain {
    public static func run(arguments: [String], environment: [String: String], bootstrapLogging: Bool = true) async -> Int32 {
        if arguments.contains("--version") {
            print("swiftlet-proxy \(BuildInfo.version)")
            return 0
        }
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Self.help, terminator: "")
            return 0
        }
        if arguments.first == "init" {
            return ProxyInit.run(arguments: Array(arguments.dropFirst()))
        }
        if arguments.contains("--env-reference") {
            print(ProxyEnvironment.markdownReference(), terminator: "")
            return 0
        }
        if environment["SWIFTLET_EXIT_WITH_PARENT"] == "1" { Self.exitWithParent() }
        if let unknown = arguments.first {
            writeStderr(
                "swiftlet-proxy: unknown argument '\(unknown)'; configure with SWIFTLET_PROXY_* variables (--env-reference lists them)\n")
            return 2
        }
        let config: ProxyConfig
        do {
            config = try ProxyEnvironment.parse(environment)
        } catch {
            writeStderr("swiftlet-proxy: bad configuration: \(error)\n")
            return 2
        }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        if bootstrapLogging {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        var logger = Logger(label: "swiftlet-proxy")
        logger.logLevel = level
        // A variable of ours the proxy does not know is most often a typo: said, with the likely name.
        for unknown in ProxyEnvironment.unknownVariables(environment) {
            logger.warning(
                "unknown variable ignored\(unknown.suggestion.map { "; did you mean \($0)?" } ?? "")",
                metadata: ["variable": "\(unknown.name)"])
        }
        Self.raiseOpenFileLimit()
        let threads = config.workerThreads > 0 ? config.workerThreads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let meshTLS = config.identityController.map { _ in MeshTLS(localName: config.identityLocalName) }
        // With an identity, discovery is mTLS with the same certificate (DESIGN §1).
        let discoveryTLS = meshTLS.map { mesh in
            DestinationClientTLS(
                serverName: config.destinationServerName ?? IdentityName.destinationService(for: config.identityLocalName) ?? "",
                current: { mesh.current.map { .init(chain: $0.chain, key: $0.key, trustAnchors: $0.trustAnchors) } }
            )
        }
        let controllerClient = config.destinationController.map { controller in
            WatchClientConfiguration(
                controller: controller, namespace: config.namespace, workload: config.workload, idleTimeout: config.destinationIdleTimeout,
                tls: discoveryTLS
            )
        }
        let discovery = controllerClient.map { DestinationClient(configuration: $0, group: group, logger: logger) }
        // Policy comes from the same controller, on a stream of its own (a slow policy never holds endpoints back).
        let policies = controllerClient.map { PolicyClient(configuration: $0, group: group, logger: logger) }
        let identity = config.identityController.map { controller in
            IdentityClient(
                configuration: .init(
                    controller: controller, localName: config.identityLocalName,
                    serverName: config.identityServerName ?? IdentityName.identityService(for: config.identityLocalName) ?? "",
                    tokenFile: config.identityTokenFile, trustAnchorsPEM: config.identityTrustAnchorsPEM
                ),
                meshTLS: meshTLS!, group: group, logger: logger
            )
        }
        let proxy = ProxyService(
            config: config, environment: environment, group: group, logger: logger, discovery: discovery, policies: policies,
            identity: identity
        )
        // Discovery and identity first: the group stops services in reverse order, so they outlive the proxy's drain.
        var first: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let discovery { first.append(.init(service: discovery)) }
        if let policies { first.append(.init(service: policies)) }
        if let identity { first.append(.init(service: identity)) }
        let services = ServiceGroup(
            configuration: .init(
                services: first + [.init(service: proxy, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await services.run()
        } catch {
            logger.error("swiftlet-proxy failed: \(StartError.describe(error))")
            try? await group.shutdownGracefully()
            return 1
        }
        try? await group.shutdownGracefully()
        return 0
    }

    static let help = """
        swiftlet-proxy: the Swiftlet data plane, one per workload.

        Usage:
          swiftlet-proxy                 run the proxy, configured by SWIFTLET_PROXY_* environment variables only
          swiftlet-proxy init [flags]    write a pod's iptables rules (the injected init container; init --help)
          swiftlet-proxy --env-reference the variables, their defaults and meanings (Markdown)
          swiftlet-proxy --version       the version
          swiftlet-proxy --help          this text

        An empty variable means its default. The admin server (SWIFTLET_PROXY_ADMIN_LISTEN_ADDR) serves /ready, /live,
        /metrics and /env.json; SIGTERM drains and stops.

        """

    /// `SWIFTLET_EXIT_WITH_PARENT=1`, as `swiftlet demo` starts its children: the proxy ends (SIGTERM to itself: a
    /// graceful drain, then exit within ten seconds at most) once the process that started it is gone, however it
    /// went — a demo killed by SIGKILL leaves no proxy behind.
    ///
    /// A watchdog thread that polls `getppid()` rather than `PR_SET_PDEATHSIG`: Linux sends that signal when the
    /// parent *thread* that forked exits, and a Swift parent spawns from pool threads that come and go — the proxy would
    /// be stopped while its parent lives.
    static func exitWithParent() {
        let parent = UnsafeMutablePointer<pid_t>.allocate(capacity: 1)
        parent.pointee = getppid()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { argument in
                let parent = argument!.assumingMemoryBound(to: pid_t.self).pointee
                while getppid() == parent { usleep(250_000) }
                kill(getpid(), SIGTERM)
                sleep(10)
                _exit(1)
            }, parent)
        if created == 0 { pthread_detach(thread) }
    }

    /// A proxy holds two descriptors per proxied connection: the soft limit (often 1,024) is raised to the hard one,
    /// as Go's runtime and nginx's `worker_rlimit_nofile` do.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }

    /// The process environment, read without Foundation.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }

    static func writeStderr(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
