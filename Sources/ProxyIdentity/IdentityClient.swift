import Crypto
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOSSL
import ProxyCore
import ProxyTransport
import ServiceLifecycle
import SwiftASN1
import SwiftletAPI
import Synchronization
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The proxy's identity: a P-256 key made in memory at start (never written anywhere), certified by the
/// controller's Identity API, renewed at 70 % of each certificate's lifetime, with backoff when the controller
/// cannot be reached. Each certificate is put in force in `MeshTLS` for the next handshake.
///
/// The trust anchors start as configured; each answer carries the set in force, which replaces them, so an anchor
/// rotation reaches every proxy with its next renewal.
public final class IdentityClient: Service, Sendable {
    public struct Configuration: Sendable {
        public var controller: HostPort
        public var localName: String
        /// The identity service's certificate name.
        public var serverName: String
        public var tokenFile: String
        public var trustAnchorsPEM: String

        public init(controller: HostPort, localName: String, serverName: String, tokenFile: String, trustAnchorsPEM: String) {
            self.controller = controller
            self.localName = localName
            self.serverName = serverName
            self.tokenFile = tokenFile
            self.trustAnchorsPEM = trustAnchorsPEM
        }
    }

    let configuration: Configuration
    public let meshTLS: MeshTLS
    public let metrics = IdentityMetrics()
    let logger: Logger
    /// Renewal starts at this fraction of a certificate's lifetime.
    static let renewAt = 0.7
    static let backoff = (initial: Duration.milliseconds(200), max: Duration.seconds(10))
    private let certified = Atomic<Bool>(false)

    public init(configuration: Configuration, meshTLS: MeshTLS, logger: Logger) {
        self.configuration = configuration
        self.meshTLS = meshTLS
        self.logger = logger
    }

    /// Whether a certificate is in force (the proxy is not ready before).
    public var isCertified: Bool { self.certified.load(ordering: .relaxed) }

    public func run() async throws {
        let key = P256.Signing.PrivateKey()
        let sslKey = try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)
        let csr = try Self.signingRequest(for: self.configuration.localName, key: key)
        var anchorsPEM = self.configuration.trustAnchorsPEM
        var backoff = Self.backoff.initial
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wait: Duration
            do {
                let response = try await self.certify(csr: csr, anchorsPEM: anchorsPEM)
                let installed = try self.install(response, key: sslKey)
                anchorsPEM = installed.anchorsPEM
                self.certified.store(true, ordering: .relaxed)
                let refreshes = self.metrics.refreshed(expiry: installed.notValidAfter)
                backoff = Self.backoff.initial
                // 70 % of the time left from now: the leaf is back-dated a little for skewed clocks, which must not
                // shorten the wait.
                let left = Double(installed.notValidAfter) - Self.now()
                wait = .milliseconds(Int64(max(left * Self.renewAt, 0.1) * 1000))
                self.logger.info(
                    "certified",
                    metadata: [
                        "identity": "\(self.configuration.localName)", "expires_in_s": "\(installed.notValidAfter - Int64(Self.now()))",
                        "refreshes": "\(refreshes)",
                    ]
                )
            } catch {
                self.metrics.failed()
                self.logger.warning("certification failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                wait = backoff
                backoff = min(backoff * 2, Self.backoff.max)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    /// One `Certify` call over TLS verified against `anchorsPEM` and the identity service's name.
    func certify(csr: [UInt8], anchorsPEM: String) async throws -> Swiftlet_Identity_V1_CertifyResponse {
        let token = try Self.readFile(self.configuration.tokenFile)
        var request = Swiftlet_Identity_V1_CertifyRequest()
        request.identity = self.configuration.localName
        request.token = .init(token)
        request.certificateSigningRequest = .init(csr)
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: self.configuration.controller.host, port: self.configuration.controller.port),
            transportSecurity: .tls { tls in
                tls.trustRoots = .certificates([.bytes(Array(anchorsPEM.utf8), format: .pem)])
                tls.serverCertificateVerification = .fullVerification
            },
            config: .defaults { $0.http2.authority = self.configuration.serverName }
        )
        return try await withGRPCClient(transport: transport) { client in
            var options = CallOptions.defaults
            options.timeout = .seconds(10)
            return try await Swiftlet_Identity_V1_Identity.Client(wrapping: client).certify(request, options: options)
        }
    }

    /// Puts a certificate in force. The answer is checked first: the leaf must be for our key and name.
    func install(_ response: Swiftlet_Identity_V1_CertifyResponse, key: NIOSSLPrivateKey) throws -> (notValidAfter: Int64, anchorsPEM: String) {
        let leaf = try NIOSSLCertificate(bytes: Array(response.leafCertificate), format: .der)
        guard PeerIdentity.dnsNames(leaf).contains(self.configuration.localName) else {
            throw IdentityClientError("the identity service issued a certificate for \(PeerIdentity.dnsNames(leaf)), not \(self.configuration.localName)")
        }
        let chain = try [leaf] + response.intermediateCertificates.map { try NIOSSLCertificate(bytes: Array($0), format: .der) }
        let anchors = try response.trustAnchors.map { try NIOSSLCertificate(bytes: Array($0), format: .der) }
        guard !anchors.isEmpty else { throw IdentityClientError("the identity service sent no trust anchor") }
        try self.meshTLS.install(chain: chain, key: key, trustAnchors: anchors, notValidAfter: Int64(leaf.notValidAfter))
        let pem = try anchors.map { try Self.pem(der: $0.toDERBytes()) }.joined()
        return (Int64(leaf.notValidAfter), pem)
    }

    /// A PKCS#10 request whose only name is `name` (a DNS subject alternative name, and the common name).
    static func signingRequest(for name: String, key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let extensions = try Certificate.Extensions { SubjectAlternativeNames([.dnsName(name)]) }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(name) }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    static func pem(der: [UInt8]) -> String {
        PEMDocument(type: "CERTIFICATE", derBytes: der).pemString + "\n"
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Reads a small file without Foundation (the token is re-read for every request, so it may rotate).
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IdentityClientError("cannot read the token file \(path) (errno \(errno))") }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result += buffer[0..<count]
            if result.count > 1 << 20 { throw IdentityClientError("the token file \(path) is over 1 MiB") }
        }
        while let last = result.last, last == 10 || last == 13 || last == 32 { result.removeLast() }
        return result
    }
}

extension IdentityClient: CustomStringConvertible {
    public var description: String { "IdentityClient(\(self.configuration.localName))" }
}

struct IdentityClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `identity_cert_expiration_timestamp_seconds` and `identity_cert_refreshes_total`, as Linkerd's proxy exports them.
public final class IdentityMetrics: Sendable {
    private let expiry = Atomic<Int64>(0)
    private let refreshes = Atomic<UInt64>(0)
    private let failures = Atomic<UInt64>(0)

    public init() {}

    /// Records a new certificate; returns how many there have been.
    func refreshed(expiry: Int64) -> UInt64 {
        self.expiry.store(expiry, ordering: .relaxed)
        return self.refreshes.add(1, ordering: .relaxed).newValue
    }

    func failed() { self.failures.add(1, ordering: .relaxed) }

    public func render() -> String {
        """
        # HELP identity_cert_expiration_timestamp_seconds Time when this proxy's current certificate expires.
        # TYPE identity_cert_expiration_timestamp_seconds gauge
        identity_cert_expiration_timestamp_seconds \(self.expiry.load(ordering: .relaxed))
        # HELP identity_cert_refreshes_total Certificates this proxy obtained.
        # TYPE identity_cert_refreshes_total counter
        identity_cert_refreshes_total \(self.refreshes.load(ordering: .relaxed))
        # HELP identity_cert_refresh_failures_total Certification attempts that failed (retried with backoff).
        # TYPE identity_cert_refresh_failures_total counter
        identity_cert_refresh_failures_total \(self.failures.load(ordering: .relaxed))

        """
    }
}
