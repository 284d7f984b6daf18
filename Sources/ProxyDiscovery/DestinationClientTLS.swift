import NIOCertificateReloading
import NIOSSL

/// How a proxy with an identity reaches the Destination API: mTLS, presenting its mesh certificate and checking
/// the controller's against the mesh's trust anchors and the Destination API's name.
///
/// What discovery answers decides which identity the proxy demands of each peer, so the answers must come from
/// the controller and nobody else; the controller in turn learns which workload asks.
public struct DestinationClientTLS: Sendable {
    public struct Credentials: Sendable {
        public var chain: [NIOSSLCertificate]
        public var key: NIOSSLPrivateKey
        public var trustAnchors: [NIOSSLCertificate]

        public init(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, trustAnchors: [NIOSSLCertificate]) {
            self.chain = chain
            self.key = key
            self.trustAnchors = trustAnchors
        }
    }

    /// The name the controller's certificate must carry.
    public var serverName: String
    /// The proxy's certificate in force; `nil` until it is certified (discovery waits for it).
    public var current: @Sendable () -> Credentials?

    public init(serverName: String, current: @escaping @Sendable () -> Credentials?) {
        self.serverName = serverName
        self.current = current
    }
}

/// Hands each new connection the certificate in force, so a renewal reaches the controller without a new client.
final class CurrentCertificate: CertificateReloader {
    let tls: DestinationClientTLS

    init(_ tls: DestinationClientTLS) {
        self.tls = tls
    }

    var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride {
        var override = NIOSSLContextConfigurationOverride()
        if let current = self.tls.current() {
            override.certificateChain = current.chain.map { .certificate($0) }
            override.privateKey = .privateKey(current.key)
        }
        return override
    }
}
