import NIOCore
import NIOPosix
import NIOSSL
import ProxyCore

/// mTLS to a meshed endpoint: the contexts to handshake with and the identity the peer must prove.
public struct UpstreamTLS: Sendable {
    public var context: NIOSSLContext
    public var identity: String

    public init(context: NIOSSLContext, identity: String) {
        self.context = context
        self.identity = identity
    }
}

/// Opens connections to upstream endpoints on the caller's event loop, so a relay never hops threads.
public struct UpstreamConnector: Sendable {
    public let connectTimeout: TimeAmount
    public let loopGuard: LoopGuard

    public init(connectTimeout: TimeAmount, loopGuard: LoopGuard) {
        self.connectTimeout = connectTimeout
        self.loopGuard = loopGuard
    }

    /// Connects to `endpoint`, running `initializer` on the new channel before it is active. Failures arrive
    /// as `ProxyError` with the code the edge answers with.
    ///
    /// `halfClosure` is for the opaque relay only, which carries a FIN across; an HTTP connection must see a
    /// server's FIN as the end of the connection.
    ///
    /// `transport` adds what sits under TLS (byte accounting). With `tls`, the returned future completes only once
    /// the handshake is done and the peer proved its identity, and `initializer` runs then, so nothing of the
    /// application is sent to an unverified peer.
    public func connect(
        to endpoint: HostPort,
        on eventLoop: EventLoop,
        halfClosure: Bool = false,
        tls: UpstreamTLS? = nil,
        transport: @escaping @Sendable (Channel) throws -> Void = { _ in },
        initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Channel> {
        if self.loopGuard.isOwnListener(ip: endpoint.host, port: endpoint.port) {
            return eventLoop.makeFailedFuture(
                ProxyError(.loopDetected, "\(endpoint) is this proxy's own listener")
            )
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: halfClosure)
            .channelInitializer { channel in
                guard let tls else {
                    return channel.eventLoop.makeCompletedFuture { try transport(channel) }.flatMap { initializer(channel) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try transport(channel)
                    let diagnosis = VerificationDiagnosis()
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(
                        NIOSSLClientHandler(context: tls.context, serverHostname: tls.identity, verificationCallback: diagnosis.callback))
                    try operations.addHandler(TLSRecordCoalescer())
                    try operations.addHandler(MeshTLSClientHandshakeHandler(expectedIdentity: tls.identity, diagnosis: diagnosis))
                }
            }
        let loopGuard = self.loopGuard
        let connected: EventLoopFuture<Channel>
        if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: endpoint.host, port: endpoint.port)
        }
        return connected.flatMapErrorThrowing { error in
            throw Self.classify(error, endpoint: endpoint)
        }.flatMapThrowing { channel in
            // A name that resolved to one of our own listeners is a loop too.
            if let remote = channel.remoteAddress, loopGuard.isOwnListener(remote) {
                channel.close(promise: nil)
                throw ProxyError(.loopDetected, "\(endpoint) resolves to this proxy's own listener")
            }
            return channel
        }.flatMap { channel in
            guard tls != nil else { return channel.eventLoop.makeSucceededFuture(channel) }
            // The handshake cannot have finished yet (it needs the peer's answer), so its handler is still there.
            guard let handshake = try? channel.pipeline.syncOperations.handler(type: MeshTLSClientHandshakeHandler.self),
                let verified = handshake.verified
            else {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(
                    ProxyError(.tlsHandshake, "the connection to \(endpoint) closed before TLS began"))
            }
            return verified.flatMap { initializer(channel) }.map { channel }
        }
    }

    public static func classify(_ error: Error, endpoint: HostPort) -> ProxyError {
        if let error = error as? ProxyError { return error }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return ProxyError(.connectTimeout, "connecting to \(endpoint) timed out")
        }
        if let error = error as? NIOConnectionError {
            if error.dnsAAAAError != nil || error.dnsAError != nil, error.connectionErrors.isEmpty {
                return ProxyError(.unresolvable, "cannot resolve \(endpoint.host)")
            }
            if error.connectionErrors.contains(where: {
                ($0.error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
            }) {
                return ProxyError(.connectTimeout, "connecting to \(endpoint) timed out")
            }
            return ProxyError(.connectionRefused, "connection to \(endpoint) refused")
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case 111: return ProxyError(.connectionRefused, "connection to \(endpoint) refused")
            case 110: return ProxyError(.connectTimeout, "connecting to \(endpoint) timed out")
            case 113, 101: return ProxyError(.connectionRefused, "no route to \(endpoint)")
            default: return ProxyError(.connectionRefused, "connecting to \(endpoint) failed (errno \(error.errnoCode))")
            }
        }
        return ProxyError(.connectionRefused, "connecting to \(endpoint): \(error)")
    }
}
