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

    /// A TLS context for one connection: the certificate in force now, the anchors in force now, TLS 1.3, and the
    /// controller's name verified. `nil` until the proxy is certified. A few milliseconds: call it off the event loops.
    func context() throws -> (NIOSSLContext, anchors: [[UInt8]])? {
        guard let current = self.current() else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateChain = current.chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(current.key)
        configuration.trustRoots = .certificates(current.trustAnchors)
        configuration.certificateVerification = .fullVerification
        configuration.applicationProtocols = ["h2"]
        return (try NIOSSLContext(configuration: configuration), try current.trustAnchors.map { try $0.toDERBytes() })
    }
}
