import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import ProxyCore
import ProxyTap
import ProxyTransport

/// The tap listener (`:4190`): gRPC over HTTP/2, served to the tap service's mTLS identity and to loopback.
///
/// A connection that starts with a TLS record is mTLS: the client's certificate is verified against the anchors (as
/// between proxies) and its identity must be the tap service's. Anything else is h2c, which only a client on this
/// host may use. Whoever is not allowed still gets an HTTP/2 answer: gRPC UNAUTHENTICATED, not a bare close.
enum TapListener {
    static func bind(
        _ address: HostPort, group: EventLoopGroup, hub: TapHub, serviceName: String, meshTLS: MeshTLS?, logger: Logger
    ) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let loopback = channel.remoteAddress?.isLoopback ?? false
                    try channel.pipeline.syncOperations.addHandler(
                        TapFirstByte { context, tls in
                            let pipeline = context.pipeline.syncOperations
                            guard tls else {
                                try Self.addHTTP2(pipeline, hub: hub, authorized: loopback, logger: logger)
                                return
                            }
                            guard let credentials = meshTLS?.current else {
                                throw ProxyError(.notCertified, "tap over mTLS before a certificate")
                            }
                            let diagnosis = VerificationDiagnosis()
                            try pipeline.addHandler(
                                try NIOSSLServerHandler(context: credentials.server, verificationCallback: diagnosis.callback))
                            try pipeline.addHandler(
                                MeshTLSServerHandshakeHandler(
                                    diagnosis: diagnosis,
                                    onVerified: { context, client, _ in
                                        let authorized = loopback || (!serviceName.isEmpty && client == serviceName)
                                        if !authorized { logger.info("tap refused", metadata: ["client_id": "\(client)"]) }
                                        try Self.addHTTP2(context.pipeline.syncOperations, hub: hub, authorized: authorized, logger: logger)
                                    },
                                    onFailure: { reason in logger.info("tap refused an mTLS client", metadata: ["reason": "\(reason)"]) }
                                ))
                        })
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    static func addHTTP2(_ pipeline: ChannelPipeline.SynchronousOperations, hub: TapHub, authorized: Bool, logger: Logger) throws {
        _ = try pipeline.configureHTTP2Pipeline(mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(TapServerStream(hub: hub, authorized: authorized, logger: logger))
            }
        }
    }
}

/// Reads the first byte of a tap connection: a TLS handshake record (0x16) or not; sets up the rest of the pipeline
/// for it, then passes the bytes on and leaves.
final class TapFirstByte: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias Configure = (ChannelHandlerContext, _ tls: Bool) throws -> Void

    private let configure: Configure
    private var configured = false

    init(_ configure: @escaping Configure) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.configured else { return context.fireChannelRead(data) }
        let bytes = Self.unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        self.configured = true
        do {
            try self.configure(context, first == 0x16)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension TapFirstByte: Sendable {}
