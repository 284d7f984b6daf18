import GRPCCore
import Logging
import ServiceLifecycle
import SwiftletAPI
import Synchronization

/// `swiftlet.destination.v1.Destination`: `Watch`, one stream per proxy for every destination it follows, and
/// `Get`, one stream per destination (for tools).
///
/// The index hands each subscription whole states; the stream sends only what changed since its last message:
/// `add` for endpoints that joined or changed, `remove` for those that left, `no_endpoints` when none are left.
public struct DestinationService: Swiftlet_Destination_V1_Destination.SimpleServiceProtocol {
    let index: ClusterIndex
    let metrics: ControllerMetrics
    let logger: Logger

    public init(index: ClusterIndex, metrics: ControllerMetrics, logger: Logger) {
        self.index = index
        self.metrics = metrics
        self.logger = logger
    }

    public func get(
        request: Swiftlet_Destination_V1_GetDestination,
        response: RPCWriter<Swiftlet_Destination_V1_Update>,
        context: ServerContext
    ) async throws {
        self.metrics.streamOpened()
        defer { self.metrics.streamClosed() }
        guard let authority = Self.authority(request.authority, contextNamespace: request.contextNamespace, in: self.index) else {
            // Not a name of the cluster: the proxy resolves it by other means. The stream stays open (nothing will
            // change) until the proxy lets go of the destination.
            try await response.write(Self.noEndpoints(exists: false))
            self.metrics.updateSent()
            try? await gracefulShutdown()
            return
        }
        self.logger.debug("destination watched", metadata: ["authority": "\(request.authority)", "client": "\(request.clientWorkload)"])
        var delta = DestinationDelta()
        // On graceful shutdown the stream ends cleanly; proxies keep their endpoints and reconnect.
        for await state in self.index.watch(authority).cancelOnGracefulShutdown() {
            for update in delta.next(state) {
                try await response.write(update)
                self.metrics.updateSent()
            }
        }
    }

    public func watch(
        request: RPCAsyncSequence<Swiftlet_Destination_V1_WatchRequest, any Error>,
        response: RPCWriter<Swiftlet_Destination_V1_WatchUpdate>,
        context: ServerContext
    ) async throws {
        let index = self.index
        let metrics = self.metrics
        let deltas = Mutex<[UInt64: DestinationDelta]>([:])
        try await WatchStream<DestinationResolution>(metrics: metrics, api: .destination).run(requests: request) { message in
            switch message.kind {
            case .subscribe(let subscribe)?:
                return .subscribe(id: subscribe.id) { deliver in
                    guard
                        let authority = Self.authority(
                            subscribe.destination.authority, contextNamespace: subscribe.destination.contextNamespace, in: index)
                    else {
                        // Not a name of the cluster: the proxy resolves it by other means; nothing will change.
                        deliver(.noEndpoints(exists: false))
                        return nil
                    }
                    return index.subscribe(authority, deliver)
                }
            case .unsubscribe(let id)?: return .unsubscribe(id: id)
            case nil: return nil
            }
        } write: { id, next in
            guard let state = next else {
                deltas.withLock { $0[id] = nil }
                return
            }
            let updates = deltas.withLock { $0[id, default: DestinationDelta()].next(state) }
            for update in updates {
                try await response.write(
                    .with {
                        $0.id = id
                        $0.update = update
                    })
                metrics.updateSent()
            }
        }
    }

    /// The destination an authority names (short names in `contextNamespace`, `default` when empty), if it is one
    /// of the cluster's. The Destination and Policy APIs read their subscriptions alike.
    static func authority(_ authority: String, contextNamespace: String, in index: ClusterIndex) -> DestinationAuthority? {
        let namespace = contextNamespace.isEmpty ? "default" : contextNamespace
        return DestinationAuthority(parsing: authority, contextNamespace: namespace, clusterDomain: index.clusterDomain)
            ?? Self.addressAuthority(authority, in: index)
    }

    /// `10.96.0.10:8080`, what transparent proxies see: a service's cluster IP and port, or else an address that
    /// may be a workload's (followed, so a workload that comes to have it is found).
    static func addressAuthority(_ authority: String, in index: ClusterIndex) -> DestinationAuthority? {
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = authority[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard IPAddressText.isValid(String(host)) else { return nil }
        return index.authority(clusterIP: String(host), port: port) ?? DestinationAuthority(workloadAddress: String(host), port: port)
    }

    static func noEndpoints(exists: Bool) -> Swiftlet_Destination_V1_Update {
        var update = Swiftlet_Destination_V1_Update()
        update.noEndpoints = .with { $0.exists = exists }
        return update
    }
}

/// The newest state of each subscription of one `Watch` stream not yet written, and a signal that there is one.
final class WatchMailbox<Value: Sendable>: Sendable {
    /// `nil` marks a subscription that ended: its delta state is dropped.
    private let pending = Mutex<[UInt64: Value?]>([:])
    let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    init() {
        (self.signals, self.signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ id: UInt64, _ state: Value) {
        self.pending.withLock { $0[id] = .some(state) }
        self.signal.yield()
    }

    func drop(_ id: UInt64) {
        self.pending.withLock { $0[id] = .some(nil) }
        self.signal.yield()
    }

    func take() -> [UInt64: Value?] {
        self.pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
    }
}

/// Turns successive states of a destination into the messages that bring a client from one to the next.
struct DestinationDelta {
    private var sent: [EndpointAddress: ResolvedEndpoint] = [:]
    private var first = true

    mutating func next(_ state: DestinationResolution) -> [Swiftlet_Destination_V1_Update] {
        defer { self.first = false }
        switch state {
        case .noEndpoints(let exists):
            self.sent = [:]
            return [DestinationService.noEndpoints(exists: exists)]
        case .endpoints(let endpoints, let labels):
            var updates: [Swiftlet_Destination_V1_Update] = []
            let removed = self.sent.keys.filter { endpoints[$0] == nil }.sorted()
            if !removed.isEmpty {
                var update = Swiftlet_Destination_V1_Update()
                update.remove = .with { $0.addresses = removed.map(Self.address) }
                updates.append(update)
            }
            let added = endpoints.values.filter { self.sent[$0.address] != $0 }.sorted { $0.address < $1.address }
            if !added.isEmpty || self.first {
                var update = Swiftlet_Destination_V1_Update()
                update.add = .with {
                    $0.endpoints = added.map(Self.endpoint)
                    $0.labels = labels
                }
                updates.append(update)
            }
            self.sent = endpoints
            return updates
        }
    }

    static func address(_ address: EndpointAddress) -> Swiftlet_Destination_V1_TcpAddress {
        .with {
            $0.ip = address.ip
            $0.port = UInt32(address.port)
        }
    }

    static func endpoint(_ endpoint: ResolvedEndpoint) -> Swiftlet_Destination_V1_Endpoint {
        .with {
            $0.address = Self.address(endpoint.address)
            $0.weight = UInt32(endpoint.weight)
            $0.identity = endpoint.identity ?? ""
            $0.labels = endpoint.labels
            switch endpoint.protocolHint {
            case .unknown: $0.protocolHint = .unknown
            case .http2: $0.protocolHint = .http2
            case .opaque: $0.protocolHint = .opaque
            }
        }
    }
}
