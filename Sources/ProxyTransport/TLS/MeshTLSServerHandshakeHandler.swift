import NIOCore
import NIOSSL
import NIOTLS
import ProxyCore

/// Waits for the end of an inbound mTLS handshake (the client's chain verified against the anchors by BoringSSL),
/// reads the client's identity from its certificate, and hands the connection on with it and the ALPN protocol
/// the client chose. A failed handshake closes the connection and is reported with the reason.
public final class MeshTLSServerHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    /// Builds the rest of the pipeline for a verified client. Throwing closes the connection.
    public typealias Verified = (ChannelHandlerContext, _ clientIdentity: String, MeshTLS.ALPN?) throws -> Void

    private let diagnosis: VerificationDiagnosis
    private let onVerified: Verified
    private let onFailure: (String) -> Void
    private var done = false

    public init(diagnosis: VerificationDiagnosis, onVerified: @escaping Verified, onFailure: @escaping (String) -> Void) {
        self.diagnosis = diagnosis
        self.onVerified = onVerified
        self.onFailure = onFailure
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted(let negotiated) = event, !self.done else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.done = true
        let names =
            (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate).flatMap { $0 }
            .map(PeerIdentity.dnsNames) ?? []
        guard let client = names.first else {
            self.fail("the client's certificate names no identity", context: context)
            return
        }
        do {
            try self.onVerified(context, client, negotiated.flatMap(MeshTLS.ALPN.init(rawValue:)))
        } catch {
            self.fail("\(error)", context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !self.done else {
            context.fireErrorCaught(error)
            return
        }
        self.done = true
        self.fail(self.diagnosis.reason ?? MeshTLSClientHandshakeHandler.describe(error), context: context)
    }

    private func fail(_ reason: String, context: ChannelHandlerContext) {
        self.onFailure(reason)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension MeshTLSServerHandshakeHandler: Sendable {}
