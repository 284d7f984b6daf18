import Foundation
import Kubernetes
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Assembles `swiftlet controller`: the source, the index, the Destination and Policy gRPC server and the admin server, run
/// as one `ServiceGroup`.
public enum ControllerRuntime {
    /// Runs until SIGTERM/SIGINT. Logs one `swiftlet controller ready` line with the bound ports once every
    /// listener is up and the manifests were read once (tests and the demo wait for it).
    public static func run(_ config: ControllerConfig, logger: Logger) async throws {
        Self.limitMallocArenas()
        let metrics = ControllerMetrics()
        let index: ClusterIndex
        let source: any ClusterSource
        var client: KubernetesClient? = nil
        switch config.source {
        case .directory(let directory):
            index = ClusterIndex(identity: config.identity, clusterDomain: config.clusterDomain)
            source = FileSource(directory: directory, index: index, metrics: metrics, logger: logger)
        case .kubernetes(let kubernetes):
            index = ClusterIndex(identity: config.identity, clusterDomain: config.clusterDomain, endpoints: .endpointSlices)
            let made = try KubernetesClient(config: kubernetes)
            client = made
            source = KubernetesSource(client: made, index: index, metrics: metrics, logger: logger)
            logger.info("following the Kubernetes API", metadata: ["server": "\(kubernetes.server)"])
        }
        let identity = try await Self.identityServices(config, client: client, metrics: metrics, logger: logger)
        let destination = try DestinationServer(
            host: config.destinationHost, port: config.destinationPort,
            services: [
                DestinationService(index: index, metrics: metrics, logger: logger),
                PolicyService(index: index, metrics: metrics, logger: logger),
            ],
            authority: config.destinationPlaintext ? nil : identity?.authority
        )
        let tapService = try TapService(index: index, identity: config.identity, authority: identity?.authority, logger: logger)
        var tap: TapAPIServer? = nil
        if let listen = config.tapListen {
            var aggregated: TapAggregatedAPI? = nil
            if let serving = config.tapServing, let client {
                let made = try TapAggregatedAPI(client: client, certificate: serving.certificate, key: serving.key, logger: logger)
                // Read once before serving; a failure is retried by the server's run (and said), connections refused till then.
                do { try await made.refresh() } catch {
                    logger.warning("tap API: the front proxy's configuration", metadata: ["error": "\(error)"])
                }
                aggregated = made
            }
            tap = try await TapAPIServer.bind(
                host: listen.host, port: listen.port, service: tapService, aggregated: aggregated, logger: logger)
        }
        let installer = identity.map { identity in
            IssuerInstaller(
                authority: identity.authority, server: identity.server,
                alsoRenewed: [destination.certificate, tapService.certificate].compactMap { $0 },
                metrics: metrics,
                logger: logger
            )
        }
        var watcher: (any Service)? = nil
        if let installer, let files = config.issuerFiles {
            watcher = IssuerFilesWatcher(files: files, installer: installer)
        } else if let installer, let secret = config.issuerSecret, let client {
            watcher = IssuerSecretWatcher(source: secret, client: client, installer: installer, logger: logger)
        }
        let injector = try await Self.injectorServer(config, client: client, authority: identity?.authority, logger: logger)
        let started = ProcessClock.now
        let admin = try await AdminHTTPServer.bind(host: config.adminHost, port: config.adminPort) { request in
            switch (request.method, request.path) {
            case (.GET, "/metrics"):
                return .init(
                    .ok, metrics.render(index: index, processLines: ProcessClock.renderStart(started)),
                    contentType: "text/plain; version=0.0.4")
            case (.GET, "/ready"):
                return source.isLoaded ? .init(.ok, "ready\n") : .init(.serviceUnavailable, "the cluster's objects are not read yet\n")
            case (.GET, "/live"):
                return .init(.ok, "live\n")
            case (.GET, "/manifests"):
                return .init(.ok, metrics.renderManifests())
            case (.GET, "/debug/endpoints"), (.GET, "/debug/policy"):
                // What the controller sends proxies, for `swiftlet diagnostics` (loopback only: see there).
                return ControllerDiagnostics.answer(request, index: index, clusterDomain: config.clusterDomain)
            case (_, "/metrics"), (_, "/ready"), (_, "/live"), (_, "/manifests"), (_, "/debug/endpoints"), (_, "/debug/policy"):
                return .init(.methodNotAllowed, "method not allowed\n")
            default:
                return .init(.notFound, "not found\n")
            }
        }
        let announcer = ReadyAnnouncer(
            source: source, destination: destination, identity: identity?.server, injectorPort: injector?.port, adminPort: admin.port,
            tapPort: tap?.port, logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: source), .init(service: destination)]
        if let identity {
            services.append(.init(service: identity.server))
            if let watcher { services.append(.init(service: watcher)) }
        }
        if let injector { services.append(.init(service: injector)) }
        if let tap { services.append(.init(service: tap)) }
        if let dashboard = config.dashboard {
            let url = config.prometheusURL ?? config.prometheus.map { "http://\($0.host):\($0.port)" } ?? "http://127.0.0.1:9090"
            let server = try await DashboardServer.bind(
                host: dashboard.host, port: dashboard.port, api: DashboardAPI(prometheus: PrometheusClient(base: url), index: index),
                tap: tapService, logger: logger)
            logger.info("dashboard", metadata: ["address": "http://\(dashboard.host):\(server.port)", "prometheus": "\(url)"])
            services.append(.init(service: server))
        }
        if let prometheus = config.prometheus {
            let host = config.adminHost == "0.0.0.0" || config.adminHost == "::" ? "127.0.0.1" : config.adminHost
            services.append(
                .init(
                    service: LocalPrometheus(
                        configuration: prometheus, index: index, controllerAdmin: "\(host):\(admin.port)",
                        controlPlaneNamespace: config.identity.controlPlaneNamespace, logger: logger)))
        }
        services.append(.init(service: announcer, successTerminationBehavior: .ignore))
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [.sigquit],
            logger: logger
        )
        // Streams end on graceful shutdown; whatever still hangs after this long is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            await admin.close()
            try? await client?.shutdown()
            throw error
        }
        await admin.close()
        try? await client?.shutdown()
    }
}

extension ControllerRuntime {
    /// The identity service's parts: the authority over the loaded (or freshly made) credentials, its server, and a
    /// watcher of the user's files. Credentials that do not load stop the controller here, with the reason.
    static func identityServices(
        _ config: ControllerConfig, client: KubernetesClient?, metrics: ControllerMetrics, logger: Logger
    ) async throws -> (server: IdentityServer, authority: CertificateAuthority)? {
        guard let listen = config.identityListen else { return nil }
        let credentials: IssuerCredentials
        if let files = config.issuerFiles {
            credentials = try files.load()
        } else if let secret = config.issuerSecret, let client {
            credentials = try await secret.load(client)
            logger.info(
                "identity credentials read",
                metadata: ["from": "Secret \(secret.namespace)/\(secret.secret)", "issuer": "\(credentials.issuer.subject)"])
        } else {
            // Made here, kept here: only the anchor's certificate is written out.
            credentials = try IssuerCredentials.generate(trustDomain: config.identity.trustDomain).credentials
            logger.info("made a trust anchor and issuer in memory", metadata: ["anchor": "\(credentials.trustAnchors[0].subject)"])
        }
        if let out = config.trustAnchorsOut {
            let temporary = out + ".tmp"
            try IssuerCredentials.pem(credentials.trustAnchors).write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, out)
        }
        let authority = CertificateAuthority(identity: config.identity, credentials: credentials, lifetime: config.certificateLifetime)
        let reviewer: (any TokenReviewer)? =
            if let client { KubernetesTokenReviewer(client: client) } else {
                config.tokenDirectory.map { LocalTokenReviewer(directory: $0) }
            }
        let server = try IdentityServer(
            host: listen.host, port: listen.port, authority: authority,
            service: IdentityService(authority: authority, reviewer: reviewer, metrics: metrics, logger: logger)
        )
        return (server, authority)
    }
}

extension ControllerRuntime {
    /// The injector webhook, when configured: it needs the identity service, whose anchors every proxy starts from.
    static func injectorServer(
        _ config: ControllerConfig, client: KubernetesClient?, authority: CertificateAuthority?, logger: Logger
    ) async throws -> InjectorServer? {
        guard let injector = config.injector else { return nil }
        guard let authority else {
            throw IdentityError(.invalidCredentials, "the injector needs the identity service (its trust anchors go into every proxy)")
        }
        let values = config.values
        let reviewer = AdmissionReviewer(
            injector: {
                ProxyInjector(values: values, trustAnchorsPEM: (try? IssuerCredentials.pem(authority.credentials.trustAnchors)) ?? "")
            },
            namespaceMetadata: { namespace in
                guard let client else { return .init() }
                do {
                    let object = try await client.get(ResourcePath.namespaces.path(name: namespace), as: GenericObject.self)
                    return .init(labels: object.metadata.labels ?? [:], annotations: object.metadata.annotations ?? [:])
                } catch {
                    logger.warning("cannot read the namespace", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
                    return .init()
                }
            },
            logger: logger
        )
        return try await InjectorServer.bind(
            host: injector.host, port: injector.port, certificate: injector.certificate, key: injector.key, reviewer: reviewer,
            logger: logger
        )
    }
}

extension ControllerRuntime {
    /// Two malloc arenas instead of glibc's default of eight per core: the controller allocates in bursts (a
    /// relist, a thousand subscriptions answered at once) on a few threads, and memory freed in an arena it will not
    /// use again stays resident. Measured with bench/discovery: a few MB of peak RSS, no change in latency.
    static func limitMallocArenas() {
        #if canImport(Glibc)
            // `M_ARENA_MAX` from <malloc.h>, which the Glibc module does not export.
            _ = glibcMallopt(-8, 2)
        #endif
    }
}

#if canImport(Glibc)
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Waits for the first manifest load and the gRPC listeners, then logs the ready line and ends.
struct ReadyAnnouncer: Service {
    let source: any ClusterSource
    let destination: DestinationServer
    let identity: IdentityServer?
    let injectorPort: Int?
    let adminPort: Int
    let tapPort: Int?
    let logger: Logger

    func run() async throws {
        let port = try await self.destination.listeningPort()
        let identityPort = try await self.identity?.listeningPort()
        try await self.source.loaded()
        self.logger.info(
            "swiftlet controller ready",
            metadata: [
                "destination": "\(port)", "destination_tls": "\(self.destination.certificate == nil ? "off" : "mtls")",
                "identity": "\(identityPort.map(String.init) ?? "off")", "injector": "\(self.injectorPort.map(String.init) ?? "off")",
                "admin": "\(self.adminPort)", "tap": "\(self.tapPort.map(String.init) ?? "off")",
            ]
        )
    }
}

/// Process start time for `process_start_time_seconds`.
enum ProcessClock {
    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func renderStart(_ seconds: Int64) -> String {
        "# HELP process_start_time_seconds Start time of the process since the epoch.\n"
            + "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(seconds)\n"
    }
}
