import Logging
import NIOCore
import ProxyCore
import ProxyGRPC
import ServiceLifecycle
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
    /// The event loops the controller connection runs on (the proxy's own).
    let group: EventLoopGroup
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

    public init(configuration: Configuration, group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
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
            await self.follow()
            group.cancelAll()
        }
    }

    /// Follows destinations, one connection and `Watch` stream at a time, reconnecting with backoff until shutdown.
    /// Each connection takes the certificate and trust anchors in force when it is made (a proxy with an identity
    /// waits for its first certificate, as `/ready` does), so renewals and anchor rotations reach the controller
    /// with the next connection.
    private func follow() async {
        var backoff = Duration.milliseconds(50)
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var received = false
            var failure: String? = nil
            do {
                guard let target = try await self.target() else { return }
                (received, failure) = try await GRPCClientConnection.withConnection(to: target, group: self.group) { connection in
                    await self.watch(on: connection)
                }
            } catch {
                failure = "\(error)"
            }
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
            // The controller restarting must not leave proxies waiting long: reconnect quickly, stay quick.
            backoff = received ? .milliseconds(50) : min(backoff * 2, .seconds(2))
            let wait = backoff * Double.random(in: 0.8...1.2)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    /// Where the controller is: plaintext, or mTLS once the proxy holds a certificate. `nil` at shutdown.
    private func target() async throws -> GRPCClientConnection.Target? {
        let controller = self.configuration.controller
        guard let tls = self.configuration.tls else { return .init(host: controller.host, port: controller.port) }
        while true {
            if let (context, _) = try tls.context() {
                return .init(host: controller.host, port: controller.port, tls: context, serverName: tls.serverName)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return nil }
        }
    }

    /// One `Watch` stream: subscribes to every destination followed, then to each new one, and publishes answers
    /// until the stream fails or the proxy shuts down. Returns whether anything was received, and why it failed.
    private func watch(on connection: GRPCClientConnection) async -> (Bool, String?) {
        let received = Atomic<Bool>(false)
        let namespace = self.configuration.namespace
        let workload = self.configuration.workload
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
                try await connection.call(path: DestinationMessages.watchPath) { requests, responses in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for (id, authority) in initial {
                                try await requests.send(DestinationMessages.subscribe(id: id, authority: authority, namespace: namespace, workload: workload))
                            }
                            for await change in changes {
                                switch change {
                                case .subscribe(let id, let authority):
                                    try await requests.send(DestinationMessages.subscribe(id: id, authority: authority, namespace: namespace, workload: workload))
                                case .unsubscribe(let id):
                                    try await requests.send(DestinationMessages.unsubscribe(id: id))
                                }
                            }
                        }
                        // This stream's view of each subscription, starting empty: its first answer is the whole set.
                        var sets: [UInt64: EndpointSet] = [:]
                        while let message = try await responses.next() {
                            received.store(true, ordering: .relaxed)
                            let update = try WatchUpdate(decoding: message)
                            guard let entry = self.entry(id: update.id) else {
                                sets[update.id] = nil
                                continue
                            }
                            if let change = update.update { sets[update.id, default: EndpointSet()].apply(change) }
                            entry.publish(sets[update.id, default: EndpointSet()].state)
                        }
                        group.cancelAll()
                    }
                }
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

    mutating func apply(_ update: DestinationUpdate) {
        switch update {
        case .add(let endpoints, let labels):
            self.exists = true
            let shared = labels.map { MetricLabel(Self.labelName($0.name), $0.value) }
            for endpoint in endpoints {
                let merged = (shared + endpoint.labels.map { MetricLabel(Self.labelName($0.name), $0.value) }).sorted()
                self.endpoints[endpoint.address] = DiscoveredEndpoint(
                    address: endpoint.address, weight: endpoint.weight == 0 ? 10_000 : Int(endpoint.weight),
                    identity: endpoint.identity.isEmpty ? nil : endpoint.identity,
                    protocolHint: Self.hint(endpoint.protocolHint), labels: merged
                )
            }
        case .remove(let addresses):
            for address in addresses { self.endpoints[address] = nil }
        case .noEndpoints(let exists):
            self.endpoints = [:]
            self.exists = exists
        }
    }

    /// `ProtocolHint`: 1 is HTTP/2, 2 opaque; anything else (0, or a value from a newer controller) is unknown.
    static func hint(_ hint: UInt64) -> DiscoveredEndpoint.ProtocolHint {
        switch hint {
        case 1: return .http2
        case 2: return .opaque
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
