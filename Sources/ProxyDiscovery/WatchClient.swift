import Logging
import NIOCore
import ProxyCore
import ProxyGRPC
import ServiceLifecycle
import Synchronization

/// One of the controller's `Watch` APIs as a proxy follows it (Destination, Policy): the messages, and what an answer
/// does to the entries followed.
public protocol WatchAPI: Sendable {
    associatedtype State: FollowedState
    /// What one stream knows of its subscriptions beyond the entries (Destination's answers are deltas on it).
    associatedtype StreamState
    /// The method's path, `/package.Service/Watch`.
    static var path: String { get }
    /// What is followed, for log lines: "destinations", "policies".
    static var subject: String { get }
    init(_ configuration: WatchClientConfiguration)
    func subscribe(id: UInt64, authority: String) -> ByteBuffer
    func unsubscribe(id: UInt64) -> ByteBuffer
    /// A new stream's state: empty, so each subscription's first answer on it is taken whole.
    func makeStreamState() -> StreamState
    /// Applies one answer: publishes into the entry of its subscription (`entry` finds it by id; `nil` when it was
    /// dropped meanwhile).
    func receive(_ message: ByteBuffer, into state: inout StreamState, entry: (UInt64) -> FollowedEntry<State>?) throws
}

/// Where the controller is and who asks.
public struct WatchClientConfiguration: Sendable {
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

/// The proxy's side of one of the controller's `Watch` APIs: one stream, subscribed to each authority in use, until
/// the authority is idle.
///
/// Answers are published into a `FollowedEntry` that every event loop reads. When the controller is unreachable the
/// entries keep their last state (traffic goes on) while the stream is re-opened with backoff and every authority
/// subscribed again; a new stream's first answer for an authority replaces what was known, so nothing stale survives
/// a reconnection.
public final class WatchClient<API: WatchAPI>: Service {
    public typealias Configuration = WatchClientConfiguration
    public typealias Entry = FollowedEntry<API.State>

    let configuration: Configuration
    let logger: Logger
    /// The event loops the controller connection runs on (the proxy's own).
    let group: EventLoopGroup
    /// The authorities followed, with their subscription ids (the source of truth a new stream
    /// subscribes from), and the open stream's queue of changes: both under one lock, so a stream starting while an
    /// authority is added sees it exactly once.
    private let followed = Mutex<Followed>(Followed())

    struct Followed {
        var entries: [String: (entry: Entry, id: UInt64)] = [:]
        var byID: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
        var stream: (number: Int, changes: AsyncStream<Change>.Continuation)? = nil
        var streams = 0
    }

    enum Change: Sendable {
        case subscribe(UInt64, String)
        case unsubscribe(UInt64)
    }

    let api: API

    public init(configuration: Configuration, group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.api = API(configuration)
        self.group = group
        self.logger = logger
    }

    /// The entry of `authority`, followed from now on (until idle).
    public func entry(for authority: String) -> Entry {
        self.followed.withLock { followed in
            if let known = followed.entries[authority] { return known.entry }
            let entry = Entry(authority: authority)
            let id = followed.nextID
            followed.nextID &+= 1
            followed.entries[authority] = (entry, id)
            followed.byID[id] = entry
            followed.stream?.changes.yield(.subscribe(id, authority))
            return entry
        }
    }

    /// Authorities followed now (for tests and the admin page).
    public var followedCount: Int { self.followed.withLock { $0.entries.count } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.evictIdle() }
            await self.follow()
            group.cancelAll()
        }
    }

    /// Follows authorities, one connection and `Watch` stream at a time, reconnecting with backoff until shutdown.
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
                self.logger.info("the controller answers again", metadata: ["following": "\(API.subject)"])
            }
            if !received, !failing, let failure {
                failing = true
                self.logger.warning(
                    "cannot follow \(API.subject); keeping what was known and retrying", metadata: ["error": "\(failure)"]
                )
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

    /// One `Watch` stream: subscribes to every authority followed, then to each new one, and publishes answers until
    /// the stream fails or the proxy shuts down. Returns whether anything was received, and why it failed.
    private func watch(on connection: GRPCClientConnection) async -> (Bool, String?) {
        let received = Atomic<Bool>(false)
        let api = self.api
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
                try await connection.call(path: API.path) { requests, responses in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for (id, authority) in initial { try await requests.send(api.subscribe(id: id, authority: authority)) }
                            for await change in changes {
                                switch change {
                                case .subscribe(let id, let authority): try await requests.send(api.subscribe(id: id, authority: authority))
                                case .unsubscribe(let id): try await requests.send(api.unsubscribe(id: id))
                                }
                            }
                        }
                        var state = api.makeStreamState()
                        while let message = try await responses.next() {
                            received.store(true, ordering: .relaxed)
                            try api.receive(message, into: &state) { self.entry(id: $0) }
                        }
                        group.cancelAll()
                    }
                }
            }
            self.logger.debug("\(API.subject) stream ended")
        } catch {
            if !Task.isCancelled {
                self.logger.debug("\(API.subject) stream failed; keeping what was known", metadata: ["error": "\(error)"])
                return (received.load(ordering: .relaxed), "\(error)")
            }
        }
        return (received.load(ordering: .relaxed), nil)
    }

    private func entry(id: UInt64) -> Entry? {
        self.followed.withLock { $0.byID[id] }
    }

    /// Stops following authorities unused for the idle timeout: their entries are evicted (loops drop what they
    /// built and ask again on next use) and the controller is told.
    private func evictIdle() async {
        let timeout =
            UInt64(self.configuration.idleTimeout.components.seconds) * 1_000_000_000
            + UInt64(self.configuration.idleTimeout.components.attoseconds / 1_000_000_000)
        let sweep = max(timeout / 4, 50_000_000)
        while !Task.isCancelled {
            let now = NIODeadline.now().uptimeNanoseconds
            let idle: [Entry] = self.followed.withLock { followed in
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
                self.logger.debug("idle; no longer followed", metadata: ["following": "\(API.subject)", "authority": "\(entry.authority)"])
            }
            try? await Task.sleep(for: .nanoseconds(Int64(sweep)))
        }
    }
}
