import Logging
import NIOCore
import NIOPosix
import ProxyCore
import ProxyHTTP
import ProxyIdentity
import ProxyTap
import ProxyTransport
import ServiceLifecycle

/// The whole proxy as one ServiceLifecycle service: binds the admin, inbound and outbound listeners, serves
/// until graceful shutdown (SIGTERM, or `POST /shutdown`), then stops accepting, lets connections finish within
/// the grace period, and closes what remains.
public struct ProxyService: Service {
    public let config: ProxyConfig
    public let environment: [String: String]
    public let group: EventLoopGroup
    public let logger: Logger
    /// Discovery, when a controller is configured (run as its own service beside this one).
    public var discovery: DestinationLookup?
    /// The Policy API, when a controller is configured (its client runs beside discovery's).
    public var policies: (any PolicyLookup)?
    /// The identity, when configured (its client runs as its own service beside this one).
    public var identity: IdentityClient?
    /// Called with the bound addresses once the proxy is ready (tests use it to learn ephemeral ports).
    public var onReady: (@Sendable (BoundAddresses) -> Void)?
    /// Builds each destination's request stages (metrics, and whatever later features or tests add).
    public var chainBuilder: StageChainBuilder = .standard

    public struct BoundAddresses: Sendable {
        public var inbound: SocketAddress
        public var outbound: SocketAddress
        public var admin: SocketAddress
    }

    public init(
        config: ProxyConfig, environment: [String: String], group: EventLoopGroup, logger: Logger, discovery: DestinationLookup? = nil,
        policies: (any PolicyLookup)? = nil, identity: IdentityClient? = nil
    ) {
        self.discovery = discovery
        self.policies = policies
        self.identity = identity
        self.config = config
        self.environment = environment
        self.group = group
        self.logger = logger
    }

    /// Binds one listener; a failure names the listener, its address and its variable.
    static func listening<T>(_ listener: String, _ address: HostPort, _ variable: String, _ bind: () async throws -> T) async throws -> T {
        do {
            return try await bind()
        } catch {
            throw StartError.cannotListen(listener, address.description, variable: variable, error)
        }
    }

    public func run() async throws {
        let (shutdownRequests, shutdownContinuation) = AsyncStream.makeStream(of: Void.self)
        let identity = self.identity
        // Tap: a hub every chain's tap stage reads (one atomic load per request while nothing taps).
        let tap = self.config.tapListen.map { _ in TapHub(redacted: self.config.tapRedactedHeaders) }
        let chainBuilder = tap.map { hub in self.chainBuilder.prepending { _ in [TapStage(hub: hub)] } } ?? self.chainBuilder
        let readiness = Readiness(condition: identity.map { identity in ({ identity.isCertified }, "waiting for a certificate") })

        // Bind first with a placeholder guard, since the guard needs the bound addresses.
        let adminShared = { (loops: LoopContextTable) in
            AdminHandler.Shared(
                loops: loops, readiness: readiness,
                environment: ProxyEnvironment.effectiveValues(self.environment),
                requestShutdown: { shutdownContinuation.yield() },
                extraMetrics: { (identity?.metrics.render() ?? "") + (tap.map(Self.tapMetrics) ?? "") }
            )
        }
        let listenAddresses = [self.config.inboundListen, self.config.outboundListen].compactMap {
            try? SocketAddress(ipAddress: $0.host, port: $0.port)
        }
        let loopGuard = LoopGuard(listeners: listenAddresses, localIPs: LoopGuard.localAddresses())
        let connector = UpstreamConnector(connectTimeout: TimeAmount(self.config.connectTimeout), loopGuard: loopGuard)
        let loops = try await LoopContextTable.make(
            group: self.group, config: self.config, connector: connector, discovery: self.discovery, meshTLS: identity?.meshTLS,
            policies: self.policies, chainBuilder: chainBuilder
        )
        let router = TargetResolver(config: self.config)

        let inboundDrainer = ConnectionDrainer()
        let outboundDrainer = ConnectionDrainer()
        let admin = try await Self.listening("admin", self.config.adminListen, "SWIFTLET_PROXY_ADMIN_LISTEN_ADDR") {
            try await AdminServer.bind(self.config.adminListen, group: self.group, shared: adminShared(loops))
        }
        let inbound = try await Self.listening("inbound", self.config.inboundListen, "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR") {
            try await ProxyListener.bind(
                self.config.inboundListen, group: self.group,
                pipeline: ListenerPipeline(
                    direction: .inbound, config: self.config, router: router, connector: connector, loops: loops, drainer: inboundDrainer,
                    logger: self.logger, meshTLS: identity?.meshTLS, tap: tap
                )
            )
        }
        let outbound = try await Self.listening("outbound", self.config.outboundListen, "SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR") {
            try await ProxyListener.bind(
                self.config.outboundListen, group: self.group,
                pipeline: ListenerPipeline(
                    direction: .outbound, config: self.config, router: router, connector: connector, loops: loops, drainer: outboundDrainer,
                    logger: self.logger, tap: tap)
            )
        }
        var tapListener: Channel?
        if let hub = tap, let address = self.config.tapListen {
            tapListener = try await Self.listening("tap", address, "SWIFTLET_PROXY_TAP_LISTEN_ADDR") {
                try await TapListener.bind(
                    address, group: self.group, hub: hub, serviceName: self.config.tapServiceName, meshTLS: identity?.meshTLS,
                    logger: self.logger)
            }
        }
        readiness.set(true)
        let bound = BoundAddresses(inbound: inbound.localAddress!, outbound: outbound.localAddress!, admin: admin.localAddress!)
        var metadata: Logger.Metadata = [
            "mode": "\(self.config.mode.rawValue)", "inbound": "\(bound.inbound)", "outbound": "\(bound.outbound)",
            "admin": "\(bound.admin)",
        ]
        if let tapAddress = tapListener?.localAddress { metadata["tap"] = "\(tapAddress)" }
        let addresses = metadata
        // "Ready" when /ready says so: with an identity, once a certificate is in force.
        if let identity, !identity.isCertified {
            self.logger.info("swiftlet-proxy listening; ready once it has a certificate", metadata: addresses)
            let logger = self.logger
            identity.whenCertified { logger.info("swiftlet-proxy ready", metadata: addresses) }
        } else {
            self.logger.info("swiftlet-proxy ready", metadata: addresses)
        }
        self.onReady?(bound)

        // Serve until SIGTERM (through the service group) or POST /shutdown.
        let trimmer = MemoryTrimmer(drainers: [inboundDrainer, outboundDrainer])
        await withTaskGroup(of: Void.self) { waiters in
            waiters.addTask { try? await gracefulShutdown() }
            // Runs until cancelled with the rest, so it never ends the wait for shutdown by itself.
            waiters.addTask { await trimmer.run() }
            waiters.addTask {
                var requests = shutdownRequests.makeAsyncIterator()
                _ = await requests.next()
            }
            await waiters.next()
            waiters.cancelAll()
        }
        shutdownContinuation.finish()

        self.logger.info("draining", metadata: ["grace_period": "\(self.config.shutdownGracePeriod)"])
        readiness.set(false)
        try? await inbound.close()
        try? await outbound.close()
        let loop = self.group.next()
        let drained = EventLoopFuture.whenAllComplete(
            [inboundDrainer.drain(on: loop), outboundDrainer.drain(on: loop)], on: loop
        )
        // Race the drain against the grace period on the loop: awaiting a future is not cancellable, so a task
        // group racing the two would wait for the drain anyway.
        let outcome = loop.makePromise(of: Bool.self)
        let grace = loop.scheduleTask(in: TimeAmount(self.config.shutdownGracePeriod)) { outcome.succeed(false) }
        drained.whenComplete { _ in
            grace.cancel()
            outcome.succeed(true)
        }
        let finishedInTime = (try? await outcome.futureResult.get()) ?? false
        if !finishedInTime {
            self.logger.warning(
                "grace period over; closing remaining connections",
                metadata: ["open": "\(inboundDrainer.openConnections + outboundDrainer.openConnections)"]
            )
            inboundDrainer.closeAll()
            outboundDrainer.closeAll()
        }
        await loops.closeIdleConnections()
        try? await tapListener?.close()
        try? await admin.close()
        self.logger.info("swiftlet-proxy stopped")
    }

    /// Tap's own series: events dropped because a tap's reader fell behind.
    static func tapMetrics(_ hub: TapHub) -> String {
        """
        # HELP tap_events_dropped_total Tap events dropped because a tap's reader fell behind its queue.
        # TYPE tap_events_dropped_total counter
        tap_events_dropped_total \(hub.droppedTotal)
        # HELP tap_streams Tap streams open now.
        # TYPE tap_streams gauge
        tap_streams \(hub.open.count)

        """
    }
}

extension ProxyService: CustomStringConvertible {
    /// ServiceLifecycle logs services by description: never print the environment, which may hold secrets.
    public var description: String { "ProxyService(mode: \(self.config.mode.rawValue))" }
}
