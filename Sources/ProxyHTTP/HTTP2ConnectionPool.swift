import NIOCore
import NIOHTTP1
import NIOHTTP2
import ProxyCore
import ProxyTransport

/// One multiplexed HTTP/2 upstream connection per endpoint and event loop; every request is a new stream on it.
final class HTTP2ConnectionPool {
    typealias StreamCompletion = (Result<UpstreamHTTPHandler, ProxyError>) -> Void

    final class Connection {
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        var channel: Channel?
        var waiters: [StreamCompletion] = []
    }

    private let eventLoop: EventLoop
    private let connector: UpstreamConnector
    private let metrics: MetricsShard
    private var connections: [UpstreamKey: Connection] = [:]

    init(eventLoop: EventLoop, connector: UpstreamConnector, metrics: MetricsShard) {
        self.eventLoop = eventLoop
        self.connector = connector
        self.metrics = metrics
    }

    /// Opens a stream to `endpoint`, connecting first if this loop has no connection there yet.
    func openStream(
        _ endpoint: UpstreamKey, direction: TrafficDirection, tls: TLSLabel, upstreamTLS: UpstreamTLS?, completion: @escaping StreamCompletion
    ) {
        if let connection = self.connections[endpoint] {
            if let multiplexer = connection.multiplexer {
                self.createStream(on: multiplexer, endpoint: endpoint, completion: completion)
            } else {
                connection.waiters.append(completion)
            }
            return
        }
        let connection = Connection()
        connection.waiters.append(completion)
        self.connections[endpoint] = connection
        let tcp = NIOLoopBound(
            self.metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: endpoint.description, tls: tls)),
            eventLoop: self.eventLoop
        )
        self.connector.connect(
            to: endpoint.endpoint, on: self.eventLoop, tls: upstreamTLS,
            transport: { channel in try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: tcp.value)) }
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client,
                    connectionConfiguration: HTTP2Tuning.connection,
                    streamConfiguration: HTTP2Tuning.stream
                ) { stream in
                    // Servers do not open streams to us (no push): refuse any.
                    stream.close()
                }
            }
        }.whenCompleteOnLoop { [self] result in
            let waiters = connection.waiters
            connection.waiters = []
            switch result {
            case .success(let channel):
                guard let multiplexer = try? channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                else {
                    channel.close(promise: nil)
                    self.connections[endpoint] = nil
                    for waiter in waiters { waiter(.failure(ProxyError(.upstreamFailed, "HTTP/2 setup failed"))) }
                    return
                }
                connection.channel = channel
                connection.multiplexer = multiplexer
                channel.closeFuture.whenCompleteOnLoop { [weak self, weak connection] _ in
                    guard let self, let connection, self.connections[endpoint] === connection else { return }
                    self.connections[endpoint] = nil
                }
                for waiter in waiters { self.createStream(on: multiplexer, endpoint: endpoint, completion: waiter) }
            case .failure(let error):
                self.connections[endpoint] = nil
                let proxyError = UpstreamConnector.classify(error, endpoint: endpoint.endpoint)
                for waiter in waiters { waiter(.failure(proxyError)) }
            }
        }
    }

    private func createStream(on multiplexer: NIOHTTP2Handler.StreamMultiplexer, endpoint: UpstreamKey, completion: @escaping StreamCompletion) {
        let promise = self.eventLoop.makePromise(of: Channel.self)
        multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http),
                    UpstreamHTTPHandler(),
                ])
            }
        }
        promise.futureResult.whenCompleteOnLoop { [weak self] result in
            switch result {
            case .success(let stream):
                guard let handler = try? stream.pipeline.syncOperations.handler(type: UpstreamHTTPHandler.self) else {
                    completion(.failure(ProxyError(.upstreamFailed, "HTTP/2 stream to \(endpoint) closed at once")))
                    return
                }
                completion(.success(handler))
            case .failure(let error):
                // A connection that went away (GOAWAY, reset) is forgotten so the next request dials anew.
                if let self, let connection = self.connections[endpoint] {
                    self.connections[endpoint] = nil
                    connection.channel?.close(promise: nil)
                }
                completion(.failure(ProxyError(.upstreamFailed, "cannot open an HTTP/2 stream to \(endpoint): \(error)")))
            }
        }
    }

    func closeAll() {
        for connection in self.connections.values { connection.channel?.close(promise: nil) }
        self.connections = [:]
    }
}

@available(*, unavailable)
extension HTTP2ConnectionPool: Sendable {}
