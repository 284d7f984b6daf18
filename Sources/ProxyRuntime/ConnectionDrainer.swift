import NIOConcurrencyHelpers
import NIOCore

/// Tracks a listener's accepted connections so shutdown can ask them to finish and know when they have.
///
/// The lock is taken once per accepted and per closed connection, never per request.
final class ConnectionDrainer: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var draining = false
        var drained: [EventLoopPromise<Void>] = []
        /// The most connections open at once since `resetHighWater`.
        var highWater = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Registers `channel`; returns false (and the caller closes it) once shutdown has begun.
    func track(_ channel: Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let accepted = self.state.withLockedValue { state -> Bool in
            guard !state.draining else { return false }
            state.channels[id] = channel
            state.highWater = max(state.highWater, state.channels.count)
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { _ in
            let finished = self.state.withLockedValue { state -> [EventLoopPromise<Void>] in
                state.channels[id] = nil
                guard state.draining, state.channels.isEmpty else { return [] }
                defer { state.drained = [] }
                return state.drained
            }
            for promise in finished { promise.succeed() }
        }
        return true
    }

    var openConnections: Int { self.state.withLockedValue { $0.channels.count } }

    /// The most connections open at once since `resetHighWater`, and how many are open now.
    var highWater: (high: Int, now: Int) {
        self.state.withLockedValue { ($0.highWater, $0.channels.count) }
    }

    /// Restarts the high-water mark from the connections open now.
    func resetHighWater() {
        self.state.withLockedValue { $0.highWater = $0.channels.count }
    }

    /// Asks every connection to finish what it is doing and close; the future completes when all have.
    func drain(on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let channels = self.state.withLockedValue { state -> [Channel]? in
            state.draining = true
            if state.channels.isEmpty { return nil }
            state.drained.append(promise)
            return Array(state.channels.values)
        }
        guard let channels else {
            promise.succeed()
            return promise.futureResult
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        return promise.futureResult
    }

    /// Closes whatever is still open when the grace period ends.
    func closeAll() {
        let channels = self.state.withLockedValue { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}
