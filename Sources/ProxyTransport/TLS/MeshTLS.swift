import NIOCore
import NIOSSL
import ProxyCore
import Synchronization

/// The proxy's side of mesh TLS: its current certificate and the trust anchors, as NIOSSL contexts ready for
/// handshakes, replaced whole at each renewal.
///
/// A connection takes the contexts current when it starts and keeps them: renewal never disturbs a handshake or
/// a connection in use. Contexts are built off the event loops (by the identity client) and read here with one
/// uncontended lock per new connection.
public final class MeshTLS: Sendable {
    /// ALPN between proxies: what the client will speak once the handshake is done, so the server needs no detection.
    public enum ALPN: String, Sendable, CaseIterable {
        case http2 = "h2"
        case http1 = "http/1.1"
        /// An opaque TCP stream (possibly a server-speaks-first protocol that detection would have to wait for).
        case opaque = "swiftlet.io/opaque"
    }

    public struct Credentials: Sendable {
        /// Terminates connections whose SNI is this proxy's identity; requires a client certificate under the anchors.
        public let server: NIOSSLContext
        let clients: [ALPN: NIOSSLContext]
        /// The leaf's expiry (seconds since the epoch).
        public let notValidAfter: Int64
        /// The certificate, its key and the anchors, for the proxy's own gRPC clients (the Destination API).
        public let chain: [NIOSSLCertificate]
        public let key: NIOSSLPrivateKey
        public let trustAnchors: [NIOSSLCertificate]

        public func client(_ protocol: ALPN) -> NIOSSLContext { self.clients[`protocol`]! }
    }

    /// This proxy's identity: the SNI it terminates, the name its certificate carries.
    public let localName: String
    private let state = Mutex<Credentials?>(nil)

    public init(localName: String) {
        self.localName = localName
    }

    /// The credentials in force; `nil` until the first certificate.
    public var current: Credentials? { self.state.withLock { $0 } }

    /// Builds contexts for a new certificate and puts them in force. Expensive (a few milliseconds): call it off
    /// the event loops.
    public func install(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, trustAnchors: [NIOSSLCertificate], notValidAfter: Int64) throws {
        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        Self.meshDefaults(&server, trustAnchors: trustAnchors)
        server.applicationProtocols = ALPN.allCases.map(\.rawValue)
        var clients: [ALPN: NIOSSLContext] = [:]
        for proto in ALPN.allCases {
            var client = TLSConfiguration.makeClientConfiguration()
            client.certificateChain = chain.map { .certificate($0) }
            client.privateKey = .privateKey(key)
            Self.meshDefaults(&client, trustAnchors: trustAnchors)
            client.applicationProtocols = [proto.rawValue]
            clients[proto] = try NIOSSLContext(configuration: client)
        }
        let credentials = Credentials(
            server: try NIOSSLContext(configuration: server), clients: clients, notValidAfter: notValidAfter, chain: chain, key: key,
            trustAnchors: trustAnchors
        )
        self.state.withLock { $0 = credentials }
    }

    /// TLS 1.3 only, peers verified against the anchors. The name is checked after the handshake against the
    /// identity discovery gave (a client) or read as the client's identity (a server): a mesh name is not a host
    /// name, and the check must be exact.
    static func meshDefaults(_ configuration: inout TLSConfiguration, trustAnchors: [NIOSSLCertificate]) {
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(trustAnchors)
        configuration.renegotiationSupport = .none
    }
}
