import GRPCCore
import ServiceLifecycle

/// What the Destination and Policy `Watch` RPCs share: a proxy's stream of subscribe and unsubscribe messages, one
/// index subscription per id, and a mailbox that keeps each subscription's newest value until the writer takes it
/// (a slow proxy skips values, it never holds the index up). Either side ending ends the stream.
/// The controller's two `Watch` APIs, counted apart.
enum WatchAPIKind: Sendable {
    case destination
    case policy
}

struct WatchStream<Value: Sendable> {
    enum Command: Sendable {
        /// Starts subscription `id` (replacing one with that id): `start` subscribes, handing values to its
        /// argument; it returns nil when it delivered the only value there will be (a name outside the cluster).
        case subscribe(id: UInt64, start: @Sendable (@escaping @Sendable (Value) -> Void) -> DestinationSubscription?)
        case unsubscribe(id: UInt64)
    }

    let metrics: ControllerMetrics
    /// Which API's gauges count the stream.
    let api: WatchAPIKind

    /// `write` gets each subscription's newest value, or nil once the subscription ended (to drop its state).
    func run<Message: Sendable>(
        requests: RPCAsyncSequence<Message, any Error>, command: @escaping @Sendable (Message) -> Command?,
        write: @escaping @Sendable (UInt64, Value?) async throws -> Void
    ) async throws {
        let mailbox = WatchMailbox<Value>()
        let metrics = self.metrics
        let api = self.api
        metrics.streamOpened(api)
        defer { metrics.streamClosed(api) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var subscriptions: [UInt64: DestinationSubscription] = [:]
                func end(_ id: UInt64) {
                    guard let subscription = subscriptions.removeValue(forKey: id) else { return }
                    subscription.cancel()
                    metrics.subscriptionsChanged(by: -1, api)
                }
                defer { for id in Array(subscriptions.keys) { end(id) } }
                for try await message in requests {
                    switch command(message) {
                    case .subscribe(let id, let start)?:
                        end(id)
                        guard let subscription = start({ mailbox.post(id, $0) }) else { continue }
                        subscriptions[id] = subscription
                        metrics.subscriptionsChanged(by: 1, api)
                    case .unsubscribe(let id)?:
                        end(id)
                        mailbox.drop(id)
                    case nil:
                        break
                    }
                }
            }
            group.addTask {
                // On graceful shutdown the stream ends cleanly; proxies keep what they have and reconnect.
                for await _ in mailbox.signals.cancelOnGracefulShutdown() {
                    for (id, next) in mailbox.take() { try await write(id, next) }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
