import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import ProxyCore
import ServiceLifecycle
import SwiftletAPI
import Synchronization

/// The proxy's side of the Destination API: one `Watch` stream to the controller, subscribed to each destination in
/// use, until the destination is idle.
///
/// Endpoints are published into a `DestinationEntry` that every event loop reads. When the controller is
/// unreachable the entries keep their last endpoints (traffic goes on) while the stream is re-opened with backoff
/// and every destination subscribed again; a new stream's first answer for a destination replaces its set, so
/// nothing stale survives a reconnection.
public final class DestinationClient: DestinationLookup, Service {
    public struct Configuration: Sendable {
        public var controller: HostPort
        public var namespace: String
        public var workload: String
        public var idleTimeout: Duration
        /// mTLS to the controller (a proxy with an identity); `nil` speaks plaintext.
        public var tls: DestinationClientTLS?

        public init(controller: HostPort, namespace: String, workload: String, idleTimeout: Duration, tls: DestinationClientTLS? = nil) {
            self.controller = controller
            self.namespace = namespace
            self.workload = workload
            self.idleTimeout = idleTimeout
            self.tls = tls
        }
    }

    let configuration: Configuration
    let logger: Logger
    /// The destinations followed, by authority, with their subscription ids (the source of truth a new stream
    /// subscribes from), and the open stream's queue of changes: both under one lock, so a stream starting while a
    /// destination is added sees it exactly once.
    private let followed = Mutex<Followed>(Followed())

    struct Followed {
        var entries: [String: (entry: DestinationEntry, id: UInt64)] = [:]
        var byID: [UInt64: DestinationEntry] = [:]
        var nextID: UInt64 = 1
        var stream: (number: Int, changes: AsyncStream<Change>.Continuation)? = nil
        var streams = 0
    }

    enum Change: Sendable {
        case subscribe(UInt64, String)
        case unsubscribe(UInt64)
    }

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func entry(for authority: String) -> DestinationEntry {
        self.followed.withLock { followed in
            if let known = followed.entries[authority] { return known.entry }
            let entry = DestinationEntry(authority: authority)
            let id = followed.nextID
            followed.nextID &+= 1
            followed.entries[authority] = (entry, id)
            followed.byID[id] = entry
            followed.stream?.changes.yield(.subscribe(id, authority))
            return entry
        }
    }

    /// Destinations followed now (for tests and the admin page).
    public var followedCount: Int { self.followed.withLock { $0.entries.count } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.evictIdle() }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                guard let (transport, anchors) = await self.makeTransport() else { break }
                await self.follow(over: transport, anchors: anchors)
            }
            group.cancelAll()
        }
    }

    /// A transport to the controller: plaintext, or mTLS once the proxy holds a certificate (discovery waits for
    /// it, as `/ready` does). The anchors it trusts are returned so a rotation can be noticed.
    private func makeTransport() async -> (HTTP2ClientTransport.Posix, [[UInt8]])? {
        var security = HTTP2ClientTransport.Posix.TransportSecurity.plaintext
        var anchors: [[UInt8]] = []
        if let tls = self.configuration.tls {
            var current = tls.current()
            while current == nil {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
                guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return nil }
                current = tls.current()
            }
            anchors = (try? current!.trustAnchors.map { try $0.toDERBytes() }) ?? []
            do {
                let roots = anchors
                security = try .mTLS(certificateReloader: CurrentCertificate(tls)) { config in
                    config.trustRoots = .certificates(roots.map { .bytes($0, format: .der) })
                    config.serverCertificateVerification = .fullVerification
                }
            } catch {
                self.logger.error("cannot configure mTLS to the Destination API", metadata: ["error": "\(error)"])
                return nil
            }
        }
        do {
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: self.configuration.controller.host, port: self.configuration.controller.port),
                transportSecurity: security,
                config: .defaults { config in
                    // The controller restarting must not leave proxies waiting long: reconnect quickly, stay quick.
                    config.backoff = .init(initial: .milliseconds(50), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
                    if let name = self.configuration.tls?.serverName { config.http2.authority = name }
                }
            )
            return (transport, anchors)
        } catch {
            self.logger.error("cannot reach the Destination API", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Follows destinations over one transport, re-opening the stream with backoff, until shutdown or until the
    /// trust anchors changed (a rotation: the next connection must trust the new ones).
    private func follow(over transport: HTTP2ClientTransport.Posix, anchors: [[UInt8]]) async {
        let client = GRPCClient(transport: transport)
        await withDiscardingTaskGroup { group in
            group.addTask { try? await client.runConnections() }
            let destination = Swiftlet_Destination_V1_Destination.Client(wrapping: client)
            var backoff = Duration.milliseconds(50)
            var failing = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let (received, failure) = await self.watch(destination)
                guard !Task.isCancelled && !Task.isShuttingDownGracefully else { break }
                // Said once when the controller becomes unreachable (a TLS refusal says why), once when it is back.
                if received && failing {
                    failing = false
                    self.logger.info("the Destination API answers again")
                }
                if !received, !failing, let failure {
                    failing = true
                    self.logger.warning("cannot follow destinations; keeping the last endpoints and retrying", metadata: ["error": "\(failure)"])
                }
                if let tls = self.configuration.tls, let current = tls.current(),
                    (try? current.trustAnchors.map { try $0.toDERBytes() }) != anchors
                {
                    self.logger.info("trust anchors changed; reconnecting to the Destination API with them")
                    break
                }
                backoff = received ? .milliseconds(50) : min(backoff * 2, .seconds(2))
                let wait = backoff * Double.random(in: 0.8...1.2)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
            client.beginGracefulShutdown()
            group.cancelAll()
        }
    }

    /// One `Watch` stream: subscribes to every destination followed, then to each new one, and publishes answers
    /// until the stream fails or the proxy shuts down. Returns whether anything was received, and why it failed.
    private func watch(_ destination: Swiftlet_Destination_V1_Destination.Client<HTTP2ClientTransport.Posix>) async -> (Bool, String?) {
        let received = Atomic<Bool>(false)
        let namespace = self.configuration.namespace
        let workload = self.configuration.workload
        let subscribe: @Sendable (UInt64, String) -> Swiftlet_Destination_V1_WatchRequest = { id, authority in
            .with {
                $0.subscribe = .with {
                    $0.id = id
                    $0.destination = .with {
                        $0.authority = authority
                        $0.contextNamespace = namespace
                        $0.clientWorkload = workload
                    }
                }
            }
        }
        let (changes, continuation) = AsyncStream.makeStream(of: Change.self)
        let (number, initial) = self.followed.withLock { followed in
            followed.streams += 1
            followed.stream?.changes.finish()
            followed.stream = (followed.streams, continuation)
            return (followed.streams, followed.entries.map { ($0.value.id, $0.key) })
        }
        defer {
            self.followed.withLock { followed in
                if followed.stream?.number == number { followed.stream = nil }
            }
            continuation.finish()
        }
        do {
            try await cancelWhenGracefulShutdown {
                try await destination.watch(
                    requestProducer: { writer in
                        for (id, authority) in initial { try await writer.write(subscribe(id, authority)) }
                        for await change in changes {
                            switch change {
                            case .subscribe(let id, let authority): try await writer.write(subscribe(id, authority))
                            case .unsubscribe(let id): try await writer.write(.with { $0.unsubscribe = id })
                            }
                        }
                    },
                    onResponse: { response in
                        // This stream's view of each subscription, starting empty: its first answer is the whole set.
                        var sets: [UInt64: EndpointSet] = [:]
                        for try await message in response.messages {
                            received.store(true, ordering: .relaxed)
                            guard let entry = self.entry(id: message.id) else {
                                sets[message.id] = nil
                                continue
                            }
                            sets[message.id, default: EndpointSet()].apply(message.update)
                            entry.publish(sets[message.id]!.state)
                        }
                    }
                )
            }
            self.logger.debug("destination stream ended")
        } catch {
            if !Task.isCancelled {
                self.logger.debug("destination stream failed; keeping the last endpoints", metadata: ["error": "\(error)"])
                return (received.load(ordering: .relaxed), "\(error)")
            }
        }
        return (received.load(ordering: .relaxed), nil)
    }

    private func entry(id: UInt64) -> DestinationEntry? {
        self.followed.withLock { $0.byID[id] }
    }

    /// Stops following destinations unused for the idle timeout: their entries are evicted (loops drop their
    /// balancers and ask again on next use) and the controller is told.
    private func evictIdle() async {
        let timeout = UInt64(self.configuration.idleTimeout.components.seconds) * 1_000_000_000
            + UInt64(self.configuration.idleTimeout.components.attoseconds / 1_000_000_000)
        let sweep = max(timeout / 4, 50_000_000)
        while !Task.isCancelled {
            let now = NIODeadline.now().uptimeNanoseconds
            let idle: [DestinationEntry] = self.followed.withLock { followed in
                let idle = followed.entries.values.filter { now &- min(now, $0.entry.lastUsed) >= timeout }
                for (entry, id) in idle {
                    followed.entries[entry.authority] = nil
                    followed.byID[id] = nil
                    followed.stream?.changes.yield(.unsubscribe(id))
                }
                return idle.map(\.entry)
            }
            for entry in idle {
                entry.evict()
                self.logger.debug("destination idle; no longer followed", metadata: ["authority": "\(entry.authority)"])
            }
            try? await Task.sleep(for: .nanoseconds(Int64(sweep)))
        }
    }
}

/// The endpoints of one stream, built up from its updates.
struct EndpointSet {
    private var endpoints: [HostPort: DiscoveredEndpoint] = [:]
    private var exists = true

    var state: DestinationEntry.State {
        if self.endpoints.isEmpty { return .noEndpoints(exists: self.exists) }
        return .endpoints(self.endpoints.values.sorted { ($0.address.host, $0.address.port) < ($1.address.host, $1.address.port) })
    }

    mutating func apply(_ update: Swiftlet_Destination_V1_Update) {
        switch update.kind {
        case .add(let set)?:
            self.exists = true
            let shared = set.labels.map { MetricLabel(Self.labelName($0.key), $0.value) }
            for endpoint in set.endpoints {
                let address = HostPort(host: endpoint.address.ip, port: Int(endpoint.address.port))
                let labels = (shared + endpoint.labels.map { MetricLabel(Self.labelName($0.key), $0.value) }).sorted()
                self.endpoints[address] = DiscoveredEndpoint(
                    address: address, weight: endpoint.weight == 0 ? 10_000 : Int(endpoint.weight),
                    identity: endpoint.identity.isEmpty ? nil : endpoint.identity,
                    protocolHint: Self.hint(endpoint.protocolHint), labels: labels
                )
            }
        case .remove(let set)?:
            for address in set.addresses { self.endpoints[HostPort(host: address.ip, port: Int(address.port))] = nil }
        case .noEndpoints(let none)?:
            self.endpoints = [:]
            self.exists = none.exists
        case nil:
            break
        }
    }

    static func hint(_ hint: Swiftlet_Destination_V1_ProtocolHint) -> DiscoveredEndpoint.ProtocolHint {
        switch hint {
        case .http2: return .http2
        case .opaque: return .opaque
        default: return .unknown
        }
    }

    /// A Prometheus label name: letters, digits and `_` only (the controller's labels are ours, but a proxy
    /// never trusts what it renders).
    static func labelName(_ name: String) -> String {
        var result = ""
        for scalar in name.unicodeScalars {
            let ok = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") || scalar == "_"
            result.unicodeScalars.append(ok ? scalar : "_")
        }
        return result.isEmpty ? "_" : result
    }
}
