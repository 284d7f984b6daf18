import Logging
import NIOCore
import NIOSSL
import ProxyCore
import ProxyGRPC
import ProxyTransport
import ServiceLifecycle
import Synchronization

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
    /// The event loops the controller connection runs on (the proxy's own).
    let group: EventLoopGroup
    public let meshTLS: MeshTLS
    public let metrics = IdentityMetrics()
    let logger: Logger
    /// Renewal starts at this fraction of a certificate's lifetime.
    static let renewAt = 0.7
    static let backoff = (initial: Duration.milliseconds(200), max: Duration.seconds(10))
    private let certified = Atomic<Bool>(false)
    /// Told once, when the first certificate is in force.
    private let onCertified = Mutex<[@Sendable () -> Void]>([])

    public init(configuration: Configuration, meshTLS: MeshTLS, group: EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.meshTLS = meshTLS
        self.logger = logger
    }

    /// Whether a certificate is in force (the proxy is not ready before).
    public var isCertified: Bool { self.certified.load(ordering: .relaxed) }

    /// Calls `body` once a certificate is in force: now if one is, else when the first arrives.
    public func whenCertified(_ body: @escaping @Sendable () -> Void) {
        let now = self.onCertified.withLock { waiting -> Bool in
            guard !self.isCertified else { return true }
            waiting.append(body)
            return false
        }
        if now { body() }
    }

    public func run() async throws {
        let key = try ProxyKey(identity: self.configuration.localName)
        let sslKey = key.key
        let csr = key.signingRequest
        var anchorsPEM = self.configuration.trustAnchorsPEM
        var backoff = Self.backoff.initial
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wait: Duration
            do {
                let response = try await self.certify(csr: csr, anchorsPEM: anchorsPEM)
                let installed = try self.install(response, key: sslKey, publicKey: key.publicKey)
                anchorsPEM = installed.anchorsPEM
                self.certified.store(true, ordering: .relaxed)
                let waiting = self.onCertified.withLock { waiting in
                    defer { waiting = [] }
                    return waiting
                }
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
                for body in waiting { body() }
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
    func certify(csr: [UInt8], anchorsPEM: String) async throws -> CertifyResponse {
        let token = try Self.readFile(self.configuration.tokenFile)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(anchorsPEM.utf8)))
        tls.certificateVerification = .fullVerification
        tls.applicationProtocols = ["h2"]
        let target = GRPCClientConnection.Target(
            host: self.configuration.controller.host, port: self.configuration.controller.port, tls: try NIOSSLContext(configuration: tls),
            serverName: self.configuration.serverName
        )
        let request = IdentityMessages.certifyRequest(identity: self.configuration.localName, token: token, csr: csr)
        let response = try await GRPCClientConnection.withConnection(to: target, group: self.group) { connection in
            try await connection.unary(path: IdentityMessages.certifyPath, request: request, timeout: .seconds(10))
        }
        return try CertifyResponse(decoding: response)
    }

    /// Puts a certificate in force. The answer is checked first: the leaf must be for our key and name.
    func install(_ response: CertifyResponse, key: NIOSSLPrivateKey, publicKey: [UInt8]) throws -> (
        notValidAfter: Int64, anchorsPEM: String
    ) {
        let leaf = try NIOSSLCertificate(bytes: response.leafCertificate, format: .der)
        guard PeerIdentity.dnsNames(leaf).contains(self.configuration.localName) else {
            throw IdentityClientError(
                "the identity service issued a certificate for \(PeerIdentity.dnsNames(leaf)), not \(self.configuration.localName)")
        }
        guard try leaf.extractPublicKey().toSPKIBytes() == publicKey else {
            throw IdentityClientError("the identity service issued a certificate for another key")
        }
        let chain = try [leaf] + response.intermediateCertificates.map { try NIOSSLCertificate(bytes: $0, format: .der) }
        let anchors = try response.trustAnchors.map { try NIOSSLCertificate(bytes: $0, format: .der) }
        guard !anchors.isEmpty else { throw IdentityClientError("the identity service sent no trust anchor") }
        try self.meshTLS.install(chain: chain, key: key, trustAnchors: anchors, notValidAfter: Int64(leaf.notValidAfter))
        let pem = try anchors.map { try PEM.certificate(der: $0.toDERBytes()) }.joined()
        return (Int64(leaf.notValidAfter), pem)
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

struct IdentityClientError: Error, CustomStringConvertible, Sendable {
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
