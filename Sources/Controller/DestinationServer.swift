import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOSSL
import ServiceLifecycle

/// The gRPC server of the discovery API as a ServiceLifecycle service: a graceful shutdown lets open streams end.
///
/// With the identity service on, it speaks mTLS only (DESIGN §1): it presents a certificate for the Destination
/// API's own name from the current issuer, and a proxy must present its mesh certificate, checked against the
/// anchors in force. What discovery says decides which identity a proxy demands of a peer, so an unauthenticated
/// answer would undo mTLS between workloads.
public struct DestinationServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    /// The server's certificate when it speaks mTLS, renewed with the issuer.
    public let certificate: ServingCertificate?

    public init(host: String, port: Int, services: [any RegistrableRPCService], authority: CertificateAuthority? = nil) throws {
        let security: HTTP2ServerTransport.Posix.TransportSecurity
        if let authority {
            let certificate = try ServingCertificate(authority: authority, name: authority.identity.destinationServiceName)
            let verifier = MeshClientVerifier(authority: authority)
            security = try .mTLS(certificateReloader: certificate) { tls in
                tls.clientCertificateVerification = .noHostnameVerification
                tls.customVerificationCallback = { presented, promise in promise.succeed(verifier.verify(presented)) }
            }
            self.certificate = certificate
        } else {
            security = .plaintext
            self.certificate = nil
        }
        self.transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: security,
            config: .defaults { $0.http2.maxConcurrentStreams = 100_000 }
        )
        self.server = GRPCServer(transport: self.transport, services: services)
    }

    /// The bound port, once listening (the configured port may be 0).
    public func listeningPort() async throws -> Int {
        try await self.transport.listeningAddress.ipv4?.port ?? 0
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.serve()
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}
