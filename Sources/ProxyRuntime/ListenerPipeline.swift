import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import ProxyCore
import ProxyHTTP
import ProxyTap
import ProxyTransport

/// Builds the pipeline of every connection accepted by the inbound or outbound listener:
/// accounting → (original destination, loop guard) → detection → HTTP/1.1, HTTP/2 or an opaque relay.
struct ListenerPipeline: Sendable {
    let direction: TrafficDirection
    let config: ProxyConfig
    let router: TargetResolver
    let connector: UpstreamConnector
    let loops: LoopContextTable
    let drainer: ConnectionDrainer
    let logger: Logger
    /// This proxy's mesh TLS, when it has an identity: inbound TLS for its name is terminated here.
    var meshTLS: MeshTLS? = nil
    /// Open taps, when tap is on: an opaque connection one of them takes is reported.
    var tap: TapHub? = nil

    /// The `tls` label of a connection before anything is known of it: plaintext until TLS is seen.
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
        let sourceMetrics = resources.metrics.acceptedTCPMetrics(direction: self.direction, target: destination, tls: self.tls)
        let accounting = TCPAccountingHandler(metrics: sourceMetrics)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(accounting)

        if let destination, self.config.opaquePorts.contains(destination.port) {
            try self.addRelay(to: destination, pipeline: pipeline, resources: resources, tls: self.tls)
            return
        }
        try pipeline.addHandler(self.detection(resources: resources, destination: destination, tls: self.tls, accounting: accounting))
    }

    /// Detection, then the pipeline for what was detected. Inside terminated mesh TLS it runs again (`tls` says
    /// who the client is), for a client that did not say by ALPN what it speaks.
    private func detection(
        resources: LoopContext, destination: HostPort?, tls: TLSLabel, accounting: TCPAccountingHandler
    ) -> ProtocolDetectionHandler {
        ProtocolDetectionHandler(timeout: TimeAmount(self.config.detectTimeout)) { context, detected in
            let pipeline = context.pipeline.syncOperations
            switch detected {
            case .http1:
                try self.addHTTP1(pipeline: pipeline, resources: resources, destination: destination, tls: tls)
            case .http2:
                try self.addHTTP2(pipeline: pipeline, resources: resources, destination: destination, channel: context.channel, tls: tls)
            case .tls(let serverName):
                if self.direction == .inbound, case .noIdentity = tls, let mesh = self.meshTLS, serverName?.lowercased() == mesh.localName {
                    try self.terminateMeshTLS(
                        mesh, pipeline: pipeline, resources: resources, destination: destination, accounting: accounting)
                    return
                }
                guard let destination else {
                    resources.metrics.recordTCPError(self.direction, .noRoute)
                    throw ProxyError(.noRoute, "explicit outbound traffic must be HTTP to be routed")
                }
                // Another name's TLS (or TLS inside TLS): not ours to open. Outside mesh TLS the client did speak
                // TLS, so both sides of the connection count as passed through, not as plaintext.
                let relayed = tls == self.tls ? TLSLabel.passthrough : tls
                if relayed != tls {
                    accounting.retarget(resources.metrics.acceptedTCPMetrics(direction: self.direction, target: destination, tls: relayed))
                }
                try self.addRelay(to: destination, pipeline: pipeline, resources: resources, tls: relayed, sni: serverName)
            case .opaque:
                guard let destination else {
                    resources.metrics.recordTCPError(self.direction, .noRoute)
                    throw ProxyError(.noRoute, "explicit outbound traffic must be HTTP to be routed")
                }
                try self.addRelay(to: destination, pipeline: pipeline, resources: resources, tls: tls)
            }
        }
    }

    /// A meshed client's connection to this proxy's identity: TLS 1.3 with this proxy's certificate, a client
    /// certificate required and verified against the anchors, then the protocol the client announced by ALPN.
    private func terminateMeshTLS(
        _ mesh: MeshTLS, pipeline: ChannelPipeline.SynchronousOperations, resources: LoopContext, destination: HostPort?,
        accounting: TCPAccountingHandler
    ) throws {
        guard let credentials = mesh.current else {
            resources.metrics.recordTCPError(self.direction, .notCertified)
            throw ProxyError(.notCertified, "mTLS for \(mesh.localName) before this proxy is certified")
        }
        let diagnosis = VerificationDiagnosis()
        let direction = self.direction
        let logger = self.logger
        try pipeline.addHandler(try NIOSSLServerHandler(context: credentials.server, verificationCallback: diagnosis.callback))
        try pipeline.addHandler(TLSRecordCoalescer())
        try pipeline.addHandler(
            MeshTLSServerHandshakeHandler(
                diagnosis: diagnosis,
                onVerified: { context, client, announced in
                    let tls = TLSLabel.established(clientID: client, serverID: nil)
                    accounting.retarget(resources.metrics.acceptedTCPMetrics(direction: direction, target: destination, tls: tls))
                    let pipeline = context.pipeline.syncOperations
                    switch announced {
                    case .http2?:
                        try self.addHTTP2(
                            pipeline: pipeline, resources: resources, destination: destination, channel: context.channel, tls: tls)
                    case .http1?:
                        try self.addHTTP1(pipeline: pipeline, resources: resources, destination: destination, tls: tls)
                    case .opaque?:
                        guard let destination else { throw ProxyError(.noRoute, "no destination for an opaque stream") }
                        try self.addRelay(to: destination, pipeline: pipeline, resources: resources, tls: tls)
                    case nil:
                        try pipeline.addHandler(
                            self.detection(resources: resources, destination: destination, tls: tls, accounting: accounting))
                    }
                },
                onFailure: { reason in
                    resources.metrics.recordTCPError(direction, .tlsHandshake)
                    logger.info("refused an mTLS client", metadata: ["reason": "\(reason)"])
                }
            )
        )
    }

    private func httpConnection(_ resources: LoopContext, _ destination: HostPort?, http2: Bool, tls: TLSLabel) -> ConnectionContext {
        ConnectionContext(
            direction: self.direction, destination: destination, router: self.router, resources: resources, tls: tls, isHTTP2: http2,
            responseTimeout: self.config.responseTimeout.map { TimeAmount($0) }, logger: self.logger
        )
    }

    /// HTTP/1.1: one handler parses requests from the bytes and writes responses as bytes; nothing else.
    private func addHTTP1(pipeline: ChannelPipeline.SynchronousOperations, resources: LoopContext, destination: HostPort?, tls: TLSLabel)
        throws
    {
        try pipeline.addProxyHTTP1Server(
            self.httpConnection(resources, destination, http2: false, tls: tls),
            headerReadTimeout: TimeAmount(self.config.headerReadTimeout)
        )
    }

    /// HTTP/2: NIO's codec in frame mode, and one handler that turns each stream into an exchange.
    private func addHTTP2(
        pipeline: ChannelPipeline.SynchronousOperations, resources: LoopContext, destination: HostPort?, channel: Channel, tls: TLSLabel
    ) throws {
        try pipeline.addProxyHTTP2Server(
            self.httpConnection(resources, destination, http2: true, tls: tls), headerReadTimeout: TimeAmount(self.config.headerReadTimeout)
        )
    }

    /// `sni`: the server name of a TLS hello the proxy does not terminate (tap reports it).
    private func addRelay(
        to destination: HostPort, pipeline: ChannelPipeline.SynchronousOperations, resources: LoopContext, tls: TLSLabel, sni: String? = nil
    ) throws {
        let metrics = resources.metrics
        let direction = self.direction
        let discoveryKey = self.router.discoveryKey(direction: direction, authority: nil, connectionDestination: destination)
        let discovered = discoveryKey.flatMap { resources.destination(for: $0) }
        if let tap = self.tap, tap.isActive, let channel = try? pipeline.context(handlerType: TCPAccountingHandler.self).channel,
            let connection = TapConnection.open(
                hub: tap, direction: direction,
                source: channel.remoteAddress.flatMap(HostPort.init), destination: destination,
                destinationLabels: discovered?.serviceLabels ?? [],
                tls: tls, sni: sni, now: channel.eventLoop.now)
        {
            // After detection (which hands on the bytes it read from where it stands), before the relay.
            try pipeline.addHandler(TapConnectionHandler(connection))
        }
        let onFailure: (ProxyError) -> Void = { error in metrics.recordTCPError(direction, error.code) }
        guard let key = discoveryKey, let balanced = discovered else {
            let upstreamMetrics = metrics.tcpMetrics(
                for: TCPLabels(direction: direction, peer: .dst, targetAddress: destination.description, tls: tls)
            )
            try pipeline.addHandler(
                RelayConnectHandler(
                    destination: destination, connector: self.connector, upstreamMetrics: upstreamMetrics, onFailure: onFailure)
            )
            return
        }
        // A service's cluster IP: each connection goes to an endpoint the balancer picks (P2C over open
        // connections and connect latency); the original destination when discovery does not know the address.
        let timeout = TimeAmount(self.config.connectTimeout)
        try pipeline.addHandler(
            RelayConnectHandler(connector: self.connector, onFailure: onFailure) { loop, chosen in
                balanced.use(now: loop.now.uptimeNanoseconds)
                let choose = {
                    // The balancer and the mTLS rule are the exchanges' own (EndpointClient).
                    let picked = try? resources.endpoints.pick(
                        balanced, key: key, authority: key, avoiding: nil, now: loop.now.uptimeNanoseconds
                    )
                    guard case .endpoints = balanced.state, let picked, let load = picked.load else {
                        chosen(
                            RelayConnectHandler.Target(
                                endpoint: destination,
                                metrics: metrics.tcpMetrics(
                                    for: TCPLabels(direction: direction, peer: .dst, targetAddress: destination.description, tls: tls))
                            ))
                        return
                    }
                    // A meshed endpoint gets the stream over mTLS (its proxy relays it on), never plaintext instead.
                    var upstreamTLS: UpstreamTLS? = nil
                    var refusal: ProxyError? = nil
                    do throws(ProxyError) {
                        upstreamTLS = try resources.endpoints.upstreamTLS(
                            identity: picked.target.identity, endpoint: picked.target.endpoint, protocol: .opaque)
                    } catch {
                        refusal = error
                    }
                    let label = upstreamTLS.map { TLSLabel.established(clientID: nil, serverID: $0.identity) } ?? tls
                    chosen(
                        RelayConnectHandler.Target(
                            endpoint: picked.target.endpoint,
                            metrics: metrics.tcpMetrics(
                                for: TCPLabels(
                                    direction: direction, peer: .dst, targetAddress: picked.target.endpoint.description, tls: label)),
                            tls: upstreamTLS, refusal: refusal,
                            onConnected: { nanoseconds in resources.endpoints.connected(load, rttNanoseconds: nanoseconds, now: loop.now) },
                            onClosed: { resources.endpoints.closed(load) }
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
