import NIOCore
import NIOSSL
import NIOTLS
import ProxyCore

/// Completes `verified` once the handshake with a meshed peer is done and the peer's certificate names exactly the
/// identity discovery gave for it; fails it, and closes the connection, otherwise. Nothing of the application is
/// in the pipeline until then, so not a byte goes to a peer that is not who it should be.
final class MeshTLSClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let expectedIdentity: String
    private let diagnosis: VerificationDiagnosis
    private var promise: EventLoopPromise<Void>?
    /// Completes when the peer is verified; fails with a `ProxyError` saying why it was not (`nil` until the handler
    /// is in a pipeline).
    private(set) var verified: EventLoopFuture<Void>?

    init(expectedIdentity: String, diagnosis: VerificationDiagnosis) {
        self.expectedIdentity = expectedIdentity.lowercased()
        self.diagnosis = diagnosis
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        self.promise = promise
        self.verified = promise.futureResult
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let presented =
            (try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate).flatMap { $0 }
            .map(PeerIdentity.dnsNames) ?? []
        guard presented.contains(self.expectedIdentity) else {
            let names = presented.isEmpty ? "no name" : presented.joined(separator: ", ")
            self.fail(
                ProxyError(.identityMismatch, "expected \(self.expectedIdentity), the peer's certificate names \(names)"), context: context)
            return
        }
        let promise = self.promise
        self.promise = nil
        // The application's handlers are added now, while the handshake event is delivered and before any byte
        // after it is decoded.
        promise?.succeed()
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard self.promise != nil else {
            context.fireErrorCaught(error)
            return
        }
        let reason = self.diagnosis.reason ?? Self.describe(error)
        self.fail(ProxyError(.tlsHandshake, "TLS with \(self.expectedIdentity) failed: \(reason)"), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.promise != nil {
            let reason = self.diagnosis.reason.map { ": \($0)" } ?? " (the peer closed the connection; it may not accept our certificate)"
            self.fail(ProxyError(.tlsHandshake, "TLS with \(self.expectedIdentity) failed\(reason)"), context: context)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.promise?.fail(ProxyError(.tlsHandshake, "TLS with \(self.expectedIdentity) was abandoned"))
        self.promise = nil
    }

    private func fail(_ error: ProxyError, context: ChannelHandlerContext) {
        let promise = self.promise
        self.promise = nil
        promise?.fail(error)
        context.close(promise: nil)
    }

    /// BoringSSL's reasons in words; its own text is kept for anything not listed.
    static func describe(_ error: Error) -> String {
        guard let error = error as? NIOSSLError, case .handshakeFailed(let inner) = error else { return "\(error)" }
        let text = "\(inner)"
        let known: [(String, String)] = [
            ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "the peer presented no certificate"),
            ("CERTIFICATE_REQUIRED", "the peer requires a client certificate"),
            ("ALERT_CERTIFICATE_EXPIRED", "the peer refused our certificate as expired"),
            ("ALERT_UNKNOWN_CA", "the peer does not trust our certificate's anchor"),
            ("ALERT_BAD_CERTIFICATE", "the peer refused our certificate"),
            ("UNSUPPORTED_PROTOCOL", "the peer does not speak TLS 1.3"),
            ("PROTOCOL_VERSION", "the peer does not speak TLS 1.3"),
            ("WRONG_VERSION_NUMBER", "the peer does not speak TLS"),
        ]
        for (marker, reason) in known where text.contains(marker) { return reason }
        return text
    }
}

@available(*, unavailable)
extension MeshTLSClientHandshakeHandler: Sendable {}
