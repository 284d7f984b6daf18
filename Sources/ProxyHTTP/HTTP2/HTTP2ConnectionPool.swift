import NIOCore
import NIOHTTP2
import ProxyCore
import ProxyTransport

/// One multiplexed HTTP/2 upstream connection per endpoint and event loop; every exchange is a new stream on it.
final class HTTP2ConnectionPool {
    typealias StreamCompletion = (Result<any ExchangeUpstream, ProxyError>) -> Void

    /// A connection being made, with the exchanges waiting for it, or made.
    final class Connection {
        let handler: HTTP2ClientHandler
        var waiters: [StreamCompletion] = []

        init(handler: HTTP2ClientHandler) {
            self.handler = handler
        }
    }

    private let eventLoop: EventLoop
    private let connector: UpstreamConnector
    private let metrics: MetricsShard
    private let flusher: FlushBatcher
    private var connections: [UpstreamKey: Connection] = [:]

    init(eventLoop: EventLoop, connector: UpstreamConnector, metrics: MetricsShard, flusher: FlushBatcher) {
        self.eventLoop = eventLoop
        self.flusher = flusher
        self.connector = connector
        self.metrics = metrics
    }

    /// A stream to `key`: at once on a connection that is up (the common case), after connecting otherwise.
    func openStream(
        _ key: UpstreamKey, direction: TrafficDirection, tls: TLSLabel, upstreamTLS: UpstreamTLS?, completion: @escaping StreamCompletion
    ) {
        if let connection = self.connections[key] {
            if connection.handler.canOpenStream {
                completion(.success(connection.handler.makeStream()))
                return
            }
            if !connection.handler.ready && !connection.handler.goingAway {
                connection.waiters.append(completion)
                return
            }
            self.connections[key] = nil
        }
        let handler = HTTP2ClientHandler(key: key, pool: self, flusher: self.flusher)
        let connection = Connection(handler: handler)
        connection.waiters.append(completion)
        self.connections[key] = connection
        let tcp = NIOLoopBound(
            self.metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: key.description, tls: tls)),
            eventLoop: self.eventLoop
        )
        let bound = NIOLoopBound(handler, eventLoop: self.eventLoop)
        self.connector.connect(
            to: key.endpoint, on: self.eventLoop, tls: upstreamTLS,
            transport: { channel in try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: tcp.value)) }
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    NIOHTTP2Handler(
                        mode: .client, connectionConfiguration: HTTP2Tuning.upstreamConnection, streamConfiguration: HTTP2Tuning.stream),
                    bound.value,
                ])
            }
        }.whenCompleteOnLoop { [self] result in
            // Success is the handler's to report, once its preface is out (`connectionReady`).
            guard case .failure(let error) = result else { return }
            let waiters = connection.waiters
            connection.waiters = []
            if self.connections[key] === connection { self.connections[key] = nil }
            let proxyError = UpstreamConnector.classify(error, endpoint: key.endpoint)
            for waiter in waiters { waiter(.failure(proxyError)) }
        }
    }

    /// The connection's preface went out: the exchanges waiting for it get their streams, in order.
    func connectionReady(_ handler: HTTP2ClientHandler) {
        guard let connection = self.connections[handler.key], connection.handler === handler else { return }
        let waiters = connection.waiters
        connection.waiters = []
        for waiter in waiters { waiter(.success(handler.makeStream())) }
    }

    /// The connection takes no more streams (`GOAWAY`, closed): the next exchange dials anew.
    func retire(_ handler: HTTP2ClientHandler) {
        guard let connection = self.connections[handler.key], connection.handler === handler else { return }
        self.connections[handler.key] = nil
        let waiters = connection.waiters
        connection.waiters = []
        for waiter in waiters { waiter(.failure(ProxyError(.connectionReset, "the HTTP/2 connection to \(handler.key) closed at once"))) }
    }

    func closeAll() {
        for connection in self.connections.values { connection.handler.close() }
        self.connections = [:]
    }
}

@available(*, unavailable)
extension HTTP2ConnectionPool: Sendable {}
