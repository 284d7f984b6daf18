import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import ProxyCore
import ProxyHTTP
import ProxyTransport

/// Builds the pipeline of every connection accepted by the inbound or outbound listener:
/// accounting → (original destination, loop guard) → detection → HTTP/1.1, HTTP/2 or an opaque relay.
struct ListenerPipeline: Sendable {
    let direction: TrafficDirection
    let config: ProxyConfig
    let router: Router
    let connector: UpstreamConnector
    let loops: LoopResourcesTable
    let drainer: ConnectionDrainer
    let logger: Logger

    /// Plaintext for now: mTLS identities arrive with the identity service.
    var tls: TLSLabel { self.direction == .inbound ? .noTLSFromRemote : .notProvidedByDiscovery }

    func initialize(_ channel: Channel) throws {
        let resources = try self.loops.resources(for: channel.eventLoop)
        guard self.drainer.track(channel) else {
            channel.close(promise: nil)
            return
        }
        var original: SocketAddress? = nil
        if self.config.mode == .transparent {
            original = OriginalDestination.read(from: channel)
            if let original, self.connector.loopGuard.isOwnListener(original) {
                resources.metrics.recordTCPError(self.direction, .loopDetected)
                self.logger.debug("refusing a connection to the proxy's own listener", metadata: ["dst": "\(original)"])
                channel.close(promise: nil)
                return
            }
        }
        let destination = self.router.connectionDestination(direction: self.direction, originalDestination: original)
        let tls = self.tls
        let sourceMetrics = resources.metrics.acceptedTCPMetrics(direction: self.direction, target: destination, tls: tls)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(TCPAccountingHandler(metrics: sourceMetrics))

        if let destination, self.config.opaquePorts.contains(destination.port) {
            try self.addRelay(to: destination, pipeline: pipeline, resources: resources)
            return
        }
        let detection = ProtocolDetectionHandler(timeout: TimeAmount(self.config.detectTimeout)) { context, detected in
            let pipeline = context.pipeline.syncOperations
            switch detected {
            case .http1:
                try self.addHTTP1(pipeline: pipeline, resources: resources, destination: destination)
            case .http2:
                try self.addHTTP2(pipeline: pipeline, resources: resources, destination: destination, channel: context.channel)
            case .tls, .opaque:
                guard let destination else {
                    resources.metrics.recordTCPError(self.direction, .noRoute)
                    throw ProxyError(.noRoute, "explicit outbound traffic must be HTTP to be routed")
                }
                try self.addRelay(to: destination, pipeline: pipeline, resources: resources)
            }
        }
        try pipeline.addHandler(detection)
    }

    private func httpContext(_ resources: LoopResources, _ destination: HostPort?, http2: Bool) -> HTTPConnectionContext {
        HTTPConnectionContext(
            direction: self.direction, destination: destination, router: self.router, resources: resources, tls: self.tls,
            responseTimeout: self.config.responseTimeout.map { TimeAmount($0) }, isHTTP2: http2, logger: self.logger
        )
    }

    private func addHTTP1(pipeline: ChannelPipeline.SynchronousOperations, resources: LoopResources, destination: HostPort?) throws {
        // The codec alone, without NIO's server upgrade handler (which is added and removed again on every
        // connection): the decoder keeps the bytes after an `Upgrade` request for the relay, and the upgrade itself
        // is the upstream's to accept; HTTPProxyHandler relays it.
        try pipeline.addHandlers([
            HTTPResponseEncoder(configuration: .init()),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
        ])
        try pipeline.addHandler(HTTPProxyHandler(connection: self.httpContext(resources, destination, http2: false)))
    }

    private func addHTTP2(
        pipeline: ChannelPipeline.SynchronousOperations, resources: LoopResources, destination: HostPort?, channel: Channel
    ) throws {
        let context = NIOLoopBound(self.httpContext(resources, destination, http2: true), eventLoop: channel.eventLoop)
        _ = try pipeline.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: HTTP2Tuning.connection,
            streamConfiguration: HTTP2Tuning.stream
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    HTTPProxyHandler(connection: context.value),
                ])
            }
        }
    }

    private func addRelay(to destination: HostPort, pipeline: ChannelPipeline.SynchronousOperations, resources: LoopResources) throws {
        let metrics = resources.metrics
        let direction = self.direction
        let tls = self.tls
        let onFailure: (ProxyError) -> Void = { error in metrics.recordTCPError(direction, error.code) }
        let discoveryKey = self.router.discoveryKey(direction: direction, authority: nil, connectionDestination: destination)
        guard let key = discoveryKey, let balanced = resources.destination(for: key) else {
            let upstreamMetrics = metrics.tcpMetrics(
                for: TCPLabels(direction: direction, peer: .dst, targetAddress: destination.description, tls: tls)
            )
            try pipeline.addHandler(
                RelayConnectHandler(destination: destination, connector: self.connector, upstreamMetrics: upstreamMetrics, onFailure: onFailure)
            )
            return
        }
        // A service's cluster IP: each connection goes to an endpoint the balancer picks (P2C over open
        // connections and connect latency); the original destination when discovery does not know the address.
        let timeout = TimeAmount(self.config.connectTimeout)
        try pipeline.addHandler(
            RelayConnectHandler(connector: self.connector, onFailure: onFailure) { loop, chosen in
                balanced.use()
                let choose = {
                    guard case .endpoints = balanced.state, let load = balanced.pick(now: NIODeadline.now().uptimeNanoseconds) else {
                        chosen(RelayConnectHandler.Target(
                            endpoint: destination,
                            metrics: metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: destination.description, tls: tls))
                        ))
                        return
                    }
                    load.started()
                    chosen(RelayConnectHandler.Target(
                        endpoint: load.endpoint.address,
                        metrics: metrics.tcpMetrics(for: TCPLabels(direction: direction, peer: .dst, targetAddress: load.endpoint.address.description, tls: tls)),
                        onConnected: { nanoseconds in load.observe(rttNanoseconds: nanoseconds, now: NIODeadline.now().uptimeNanoseconds) },
                        onClosed: { load.abandoned() }
                    ))
                }
                if balanced.state == .pending {
                    // The first connection to an address waits for discovery's first answer, up to the connect timeout.
                    balanced.afterFirstAnswer(on: loop, timeout: timeout, choose)
                } else {
                    choose()
                }
            }
        )
    }
}
