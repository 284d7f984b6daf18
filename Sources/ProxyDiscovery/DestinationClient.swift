import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import ProxyCore
import ServiceLifecycle
import SwiftletAPI
import Synchronization

/// The proxy's side of the Destination API: one `Get` stream per destination in use, followed until the
/// destination is idle.
///
/// Endpoints are published into a `DestinationEntry` that every event loop reads. When the controller is
/// unreachable the entry keeps its last endpoints (traffic goes on) while the stream is re-opened with backoff;
/// a new stream's first message replaces the set, so nothing stale survives a reconnection.
public final class DestinationClient: DestinationLookup, Service {
    public struct Configuration: Sendable {
        public var controller: HostPort
        public var namespace: String
        public var workload: String
        public var idleTimeout: Duration

        public init(controller: HostPort, namespace: String, workload: String, idleTimeout: Duration) {
            self.controller = controller
            self.namespace = namespace
            self.workload = workload
            self.idleTimeout = idleTimeout
        }
    }

    let configuration: Configuration
    let logger: Logger
    private let entries = Mutex<[String: DestinationEntry]>([:])
    private let requests: AsyncStream<DestinationEntry>
    private let requestContinuation: AsyncStream<DestinationEntry>.Continuation

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (self.requests, self.requestContinuation) = AsyncStream.makeStream(of: DestinationEntry.self)
    }

    public func entry(for authority: String) -> DestinationEntry {
        let (entry, created) = self.entries.withLock { entries -> (DestinationEntry, Bool) in
            if let known = entries[authority] { return (known, false) }
            let entry = DestinationEntry(authority: authority)
            entries[authority] = entry
            return (entry, true)
        }
        if created { self.requestContinuation.yield(entry) }
        return entry
    }

    /// Destinations followed now (for tests and the admin page).
    public var followedCount: Int { self.entries.withLock { $0.count } }

    public func run() async throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: self.configuration.controller.host, port: self.configuration.controller.port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                // The controller restarting must not leave proxies waiting long: reconnect quickly, stay quick.
                config.backoff = .init(initial: .milliseconds(50), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
            }
        )
        let client = GRPCClient(transport: transport)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await client.runConnections() }
            let destination = Swiftlet_Destination_V1_Destination.Client(wrapping: client)
            for await entry in self.requests.cancelOnGracefulShutdown() {
                group.addTask { await self.follow(entry, destination) }
            }
            client.beginGracefulShutdown()
        }
    }

    /// Streams `entry`'s endpoints until it has been idle for the idle timeout, re-opening the stream with
    /// backoff when it fails.
    private func follow(_ entry: DestinationEntry, _ destination: Swiftlet_Destination_V1_Destination.Client<HTTP2ClientTransport.Posix>) async {
        var backoff = Duration.milliseconds(50)
        defer {
            self.entries.withLock { entries in
                if entries[entry.authority] === entry { entries[entry.authority] = nil }
            }
            entry.evict()
        }
        while !Task.isCancelled {
            let outcome = await withTaskGroup(of: FollowOutcome.self) { group in
                group.addTask { await self.stream(entry, destination) }
                group.addTask { await self.idle(entry) }
                let first = await group.next() ?? .idle
                group.cancelAll()
                return first
            }
            switch outcome {
            case .idle:
                self.logger.debug("destination idle; no longer followed", metadata: ["authority": "\(entry.authority)"])
                return
            case .receivedThenFailed:
                backoff = .milliseconds(50)
            case .failed:
                backoff = min(backoff * 2, .seconds(2))
            }
            try? await Task.sleep(for: backoff * Double.random(in: 0.8...1.2))
        }
    }

    private enum FollowOutcome: Sendable { case idle, failed, receivedThenFailed }

    private func idle(_ entry: DestinationEntry) async -> FollowOutcome {
        let timeout = UInt64(self.configuration.idleTimeout.components.seconds) * 1_000_000_000
            + UInt64(self.configuration.idleTimeout.components.attoseconds / 1_000_000_000)
        while !Task.isCancelled {
            let now = NIODeadline.now().uptimeNanoseconds
            let idleFor = now &- min(now, entry.lastUsed)
            if idleFor >= timeout { return .idle }
            try? await Task.sleep(for: .nanoseconds(Int64(timeout - idleFor)))
        }
        return .failed
    }

    private func stream(_ entry: DestinationEntry, _ destination: Swiftlet_Destination_V1_Destination.Client<HTTP2ClientTransport.Posix>) async -> FollowOutcome {
        var request = Swiftlet_Destination_V1_GetDestination()
        request.authority = entry.authority
        request.contextNamespace = self.configuration.namespace
        request.clientWorkload = self.configuration.workload
        let received = Atomic<Bool>(false)
        do {
            try await destination.get(request) { response in
                var set = EndpointSet()
                for try await update in response.messages {
                    set.apply(update)
                    entry.publish(set.state)
                    received.store(true, ordering: .relaxed)
                }
            }
            self.logger.debug("destination stream ended", metadata: ["authority": "\(entry.authority)"])
        } catch {
            if !Task.isCancelled {
                self.logger.debug("destination stream failed; keeping the last endpoints", metadata: ["authority": "\(entry.authority)", "error": "\(error)"])
            }
        }
        return received.load(ordering: .relaxed) ? .receivedThenFailed : .failed
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
