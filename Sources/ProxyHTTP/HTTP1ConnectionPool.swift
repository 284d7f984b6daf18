import NIOCore
import NIOHTTP1
import ProxyCore
import ProxyTransport

/// Idle HTTP/1.1 upstream connections of one event loop, per endpoint.
///
/// Loop-local, so checking a connection out or in takes no lock. Connections idle longer than the idle
/// timeout are closed by a periodic sweep rather than one timer each.
final class HTTP1ConnectionPool {
    struct Idle {
        var channel: Channel
        var handler: UpstreamHTTPHandler
        var since: NIODeadline
    }

    /// A checked-out connection: `reused` says whether it served a request before (and so may have been closed
    /// by the server meanwhile).
    struct Lease {
        var channel: Channel
        var handler: UpstreamHTTPHandler
        var endpoint: UpstreamKey
        var reused: Bool
    }

    private let eventLoop: EventLoop
    private let connector: UpstreamConnector
    private let metrics: MetricsShard
    private let maxIdlePerEndpoint: Int
    private let idleTimeout: TimeAmount
    private var idle: [UpstreamKey: [Idle]] = [:]
    private var sweep: RepeatedTask?

    init(eventLoop: EventLoop, connector: UpstreamConnector, metrics: MetricsShard, maxIdlePerEndpoint: Int, idleTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connector = connector
        self.metrics = metrics
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
    }

    /// Opens a new connection to `endpoint` for a caller that found no idle one (`takeIdle`); `completion` runs
    /// on the pool's loop.
    func connect(
        _ endpoint: UpstreamKey, direction: TrafficDirection, tls label: TLSLabel, upstreamTLS: UpstreamTLS?,
        completion: @escaping (Result<Lease, ProxyError>) -> Void
    ) {
        let tcp = NIOLoopBound(
            self.metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: endpoint.description, tls: label)),
            eventLoop: self.eventLoop
        )
        self.connector.connect(
            to: endpoint.endpoint, on: self.eventLoop, tls: upstreamTLS,
            transport: { channel in try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: tcp.value)) }
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    HTTPRequestEncoder(),
                    ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .forward)),
                    UpstreamHTTPHandler(),
                ])
            }
        }.whenCompleteOnLoop { result in
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHTTPHandler.self) else {
                    channel.close(promise: nil)
                    completion(.failure(ProxyError(.connectionReset, "connection to \(endpoint) closed at once")))
                    return
                }
                completion(.success(Lease(channel: channel, handler: handler, endpoint: endpoint, reused: false)))
            case .failure(let error):
                completion(.failure(UpstreamConnector.classify(error, endpoint: endpoint.endpoint)))
            }
        }
    }

    /// An idle connection to `endpoint`, if one is alive: the common case, answered without a callback.
    /// The list is mutated in place, so checking out does not copy it.
    func takeIdle(_ endpoint: UpstreamKey) -> Lease? {
        while let last = self.idle[endpoint]?.popLast() {
            if self.idle[endpoint]?.isEmpty == true { self.idle[endpoint] = nil }
            if last.handler.isActive {
                last.handler.idlePool = nil
                return Lease(channel: last.channel, handler: last.handler, endpoint: endpoint, reused: true)
            }
        }
        return nil
    }

    /// Takes a connection back after a complete exchange; closes it if the pool for its endpoint is full.
    func release(_ lease: Lease) {
        guard lease.handler.isActive else { return }
        guard (self.idle[lease.endpoint]?.count ?? 0) < self.maxIdlePerEndpoint else {
            lease.channel.close(promise: nil)
            return
        }
        lease.handler.detach()
        // The handler tells the pool if the server closes it while idle (it keeps reading, so that is seen at once).
        lease.handler.idlePool = (self, lease.endpoint)
        self.idle[lease.endpoint, default: []].append(Idle(channel: lease.channel, handler: lease.handler, since: .now()))
        self.scheduleSweep()
    }

    /// Called by an idle connection's handler when the server closed it.
    func idleConnectionClosed(_ handler: UpstreamHTTPHandler, endpoint: UpstreamKey) {
        self.idle[endpoint]?.removeAll { $0.handler === handler }
        if self.idle[endpoint]?.isEmpty == true { self.idle[endpoint] = nil }
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
        for (endpoint, list) in self.idle {
            let (expired, kept) = (list.filter { $0.since < deadline }, list.filter { $0.since >= deadline })
            self.idle[endpoint] = kept.isEmpty ? nil : kept
            for connection in expired {
                connection.handler.idlePool = nil
                connection.channel.close(promise: nil)
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
                connection.handler.idlePool = nil
                connection.channel.close(promise: nil)
            }
        }
        self.idle = [:]
        self.sweep?.cancel()
        self.sweep = nil
    }
}

@available(*, unavailable)
extension HTTP1ConnectionPool: Sendable {}
