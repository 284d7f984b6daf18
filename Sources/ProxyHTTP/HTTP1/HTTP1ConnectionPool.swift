import NIOCore
import ProxyCore
import ProxyTransport

/// Idle HTTP/1.1 upstream connections of one event loop, per endpoint.
///
/// Loop-local, so checking a connection out or in takes no lock. Connections idle longer than the idle timeout are
/// closed by a periodic sweep rather than one timer each.
final class HTTP1ConnectionPool {
    private let eventLoop: EventLoop
    private let connector: UpstreamConnector
    private let metrics: MetricsShard
    private let maxIdlePerEndpoint: Int
    private let idleTimeout: TimeAmount
    private var idle: [UpstreamKey: [HTTP1ClientHandler]] = [:]
    private var sweep: RepeatedTask?

    init(eventLoop: EventLoop, connector: UpstreamConnector, metrics: MetricsShard, maxIdlePerEndpoint: Int, idleTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connector = connector
        self.metrics = metrics
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
    }

    /// An idle connection to `key`, if one is alive: the common case, answered without a callback.
    func takeIdle(_ key: UpstreamKey) -> HTTP1ClientHandler? {
        while let last = self.idle[key]?.popLast() {
            if self.idle[key]?.isEmpty == true { self.idle[key] = nil }
            last.idleSince = nil
            if last.isActive { return last }
        }
        return nil
    }

    /// Opens a new connection to `key` for a caller that found no idle one; `completion` runs on the pool's loop.
    func connect(
        _ key: UpstreamKey, direction: TrafficDirection, tls label: TLSLabel, upstreamTLS: UpstreamTLS?,
        completion: @escaping (Result<any ExchangeUpstream, ProxyError>) -> Void
    ) {
        let tcp = NIOLoopBound(
            self.metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: key.description, tls: label)),
            eventLoop: self.eventLoop
        )
        let handler = NIOLoopBound(HTTP1ClientHandler(key: key, pool: self), eventLoop: self.eventLoop)
        self.connector.connect(
            to: key.endpoint, on: self.eventLoop, tls: upstreamTLS,
            transport: { channel in try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: tcp.value)) }
        ) { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
        }.whenCompleteOnLoop { result in
            switch result {
            case .success:
                guard handler.value.isActive else {
                    completion(.failure(ProxyError(.connectionReset, "connection to \(key) closed at once")))
                    return
                }
                completion(.success(handler.value))
            case .failure(let error):
                completion(.failure(UpstreamConnector.classify(error, endpoint: key.endpoint)))
            }
        }
    }

    /// Takes a connection back after a complete exchange; closes it if the pool for its endpoint is full.
    func release(_ handler: HTTP1ClientHandler) {
        guard (self.idle[handler.key]?.count ?? 0) < self.maxIdlePerEndpoint else {
            handler.context?.close(promise: nil)
            return
        }
        handler.idleSince = .now()
        self.idle[handler.key, default: []].append(handler)
        self.scheduleSweep()
    }

    /// Called by an idle connection's handler when the server closed it.
    func idleConnectionClosed(_ handler: HTTP1ClientHandler) {
        handler.idleSince = nil
        self.idle[handler.key]?.removeAll { $0 === handler }
        if self.idle[handler.key]?.isEmpty == true { self.idle[handler.key] = nil }
    }

    private func scheduleSweep() {
        guard self.sweep == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        let interval = TimeAmount.nanoseconds(max(self.idleTimeout.nanoseconds / 4, 100_000_000))
        self.sweep = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.closeExpired()
        }
    }

    private func closeExpired() {
        let deadline = NIODeadline.now() - self.idleTimeout
        for (key, list) in self.idle {
            let kept = list.filter { ($0.idleSince ?? .distantFuture) >= deadline }
            self.idle[key] = kept.isEmpty ? nil : kept
            for connection in list where (connection.idleSince ?? .distantFuture) < deadline {
                connection.idleSince = nil
                connection.context?.close(promise: nil)
            }
        }
        if self.idle.isEmpty {
            self.sweep?.cancel()
            self.sweep = nil
        }
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for list in self.idle.values {
            for connection in list {
                connection.idleSince = nil
                connection.context?.close(promise: nil)
            }
        }
        self.idle = [:]
        self.sweep?.cancel()
        self.sweep = nil
    }
}

@available(*, unavailable)
extension HTTP1ConnectionPool: Sendable {}
