import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCertificateReloading
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import X509

/// The Identity API's gRPC server as a ServiceLifecycle service, served over TLS with a certificate for the
/// identity service's own name, signed by the current issuer.
///
/// The server's certificate is handed to each handshake by a reloader, so when the issuer or the anchors change
/// (`credentialsChanged`) the next handshake presents a certificate from the new issuer without a restart.
public struct IdentityServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let reloader: ServingCertificate

    public init(host: String, port: Int, authority: CertificateAuthority, service: IdentityService) throws {
        self.reloader = try ServingCertificate(authority: authority, name: authority.identity.identityServiceName)
        self.transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: try .tls(certificateReloader: self.reloader)
        )
        self.server = GRPCServer(transport: self.transport, services: [service])
    }

    /// The bound port, once listening.
    public func listeningPort() async throws -> Int {
        try await self.transport.listeningAddress.ipv4?.port ?? 0
    }

    /// Signs a new serving certificate with the authority's current issuer.
    public func credentialsChanged() throws {
        try self.reloader.renew()
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.serve()
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}

/// A control-plane server's own certificate: a key made here, a leaf for the service's name from the authority,
/// valid as long as the issuer is (capped at a year), and renewed whenever the issuer changes.
public final class ServingCertificate: CertificateReloader {
    let authority: CertificateAuthority
    let name: String
    private let current: Mutex<NIOSSLContextConfigurationOverride>

    public init(authority: CertificateAuthority, name: String) throws {
        self.authority = authority
        self.name = name
        self.current = Mutex(try Self.issue(authority, name: name))
    }

    public var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride { self.current.withLock { $0 } }

    public func renew() throws {
        let next = try Self.issue(self.authority, name: self.name)
        self.current.withLock { $0 = next }
    }

    static func issue(_ authority: CertificateAuthority, name: String) throws -> NIOSSLContextConfigurationOverride {
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName { CommonName(name) }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                try .init(
                    ExtensionRequest(
                        extensions: Certificate.Extensions {
                            SubjectAlternativeNames([.dnsName(name)])
                        }))
            ]),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        let issued = try authority.certify(name, csrDER: try csr.derBytes, lifetime: 365 * 24 * 3600)
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = try ([issued.leaf] + issued.chain).map {
            .certificate(try NIOSSLCertificate(bytes: try $0.derBytes, format: .der))
        }
        override.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der))
        return override
    }
}

extension CertificateSigningRequest {
    var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
