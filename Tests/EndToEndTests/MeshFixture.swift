import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

/// A controller with an identity service over files made by `swiftlet identity generate`, local tokens, and
/// helpers to start meshed proxies and to make certificates an outside peer (openssl) presents.
final class MeshFixture: @unchecked Sendable {
    static let namespace = "demo"
    let directory: URL
    let ca: URL
    let tokens: URL
    let manifests: URL
    let controller: ControllerProcess

    static func identity(_ serviceAccount: String) -> String {
        "\(serviceAccount).\(Self.namespace).serviceaccount.identity.swiftlet.cluster.local"
    }

    /// `lifetime` is the workload certificates' (`--identity-certificate-lifetime`).
    static func start(lifetime: String = "24h", manifests: [String: String] = [:]) async throws -> MeshFixture {
        let directory = try E2E.temporaryDirectory()
        let ca = directory.appendingPathComponent("ca")
        let generated = try await run(ControllerProcess.binary, ["identity", "generate", "--out", ca.path])
        guard generated.status == 0 else { throw HarnessError("swiftlet identity generate failed: \(generated.output)") }
        let tokens = directory.appendingPathComponent("tokens")
        try FileManager.default.createDirectory(at: tokens.appendingPathComponent(Self.namespace), withIntermediateDirectories: true)
        let manifestDirectory = directory.appendingPathComponent("manifests")
        try FileManager.default.createDirectory(at: manifestDirectory, withIntermediateDirectories: true)
        for (name, text) in manifests {
            try text.write(to: manifestDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let controller = try await ControllerProcess.start(
            manifests: manifestDirectory, meshedDiscovery: true,
            extra: [
                "--identity-trust-anchors", ca.appendingPathComponent("ca.crt").path,
                "--identity-issuer-certificate", ca.appendingPathComponent("issuer.crt").path,
                "--identity-issuer-key", ca.appendingPathComponent("issuer.key").path,
                "--identity-tokens", tokens.path, "--identity-certificate-lifetime", lifetime,
            ]
        )
        return MeshFixture(directory: directory, ca: ca, tokens: tokens, manifests: manifestDirectory, controller: controller)
    }

    private init(directory: URL, ca: URL, tokens: URL, manifests: URL, controller: ControllerProcess) {
        self.directory = directory
        self.ca = ca
        self.tokens = tokens
        self.manifests = manifests
        self.controller = controller
    }

    var anchorsPEM: String { (try? String(contentsOf: self.ca.appendingPathComponent("ca.crt"), encoding: .utf8)) ?? "" }

    /// Issues `serviceAccount` a token (as a pod's projected token) and returns the file the proxy reads.
    func token(for serviceAccount: String) throws -> String {
        let token = UUID().uuidString
        try token.write(to: self.tokens.appendingPathComponent("\(Self.namespace)/\(serviceAccount)"), atomically: true, encoding: .utf8)
        let path = self.directory.appendingPathComponent("token-\(serviceAccount)-\(UUID().uuidString.prefix(4))").path
        try token.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A proxy running as `serviceAccount`, with discovery and identity, returned once it holds a certificate.
    func proxy(_ serviceAccount: String, _ environment: [String: String] = [:]) async throws -> ProxyProcess {
        let proxy = try await self.uncertifiedProxy(serviceAccount, environment)
        _ = try await proxy.child.waitForLine(containing: "certified")
        return proxy
    }

    /// The same, returned as soon as it listens (before any certificate).
    func uncertifiedProxy(_ serviceAccount: String, _ environment: [String: String] = [:]) async throws -> ProxyProcess {
        var env = [
            "SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:\(self.controller.destinationPort)",
            "SWIFTLET_PROXY_NAMESPACE": Self.namespace,
            "SWIFTLET_PROXY_IDENTITY_ADDR": "127.0.0.1:\(self.controller.identityPort ?? 0)",
            "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": Self.identity(serviceAccount),
            "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": self.anchorsPEM,
            "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": try self.token(for: serviceAccount),
        ]
        for (key, value) in environment { env[key] = value }
        return try await ProxyProcess.start(env)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: self.manifests.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    static func service(_ name: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          selector: {app: \(name)}
          ports: [{name: http, port: 8080, targetPort: http}]

        """
    }

    /// A workload reached at `port` on loopback (a proxy's inbound port, or an outside TLS server).
    static func workload(_ name: String, app: String, serviceAccount: String, port: Int) -> String {
        """
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: \(name), namespace: \(namespace), labels: {app: \(app)}}
        spec: {serviceAccount: \(serviceAccount), address: 127.0.0.1, ports: [{name: http, port: \(port)}]}

        """
    }

    /// A leaf for `name` signed by the issuer in `ca` (or by another CA's), valid from `notBefore` to `notAfter`,
    /// written as PEM files an outside TLS peer can use.
    func leaf(
        _ name: String, notBefore: Date = Date() - 60, notAfter: Date = Date() + 3600, caDirectory: URL? = nil
    ) throws -> PeerCertificate {
        let ca = caDirectory ?? self.ca
        let issuerPEM = try String(contentsOf: ca.appendingPathComponent("issuer.crt"), encoding: .utf8)
        let issuer = try Certificate(pemEncoded: issuerPEM)
        let issuerKey = try Certificate.PrivateKey(
            pemEncoded: try String(contentsOf: ca.appendingPathComponent("issuer.key"), encoding: .utf8))
        let key = P256.Signing.PrivateKey()
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: issuer.subject, subject: try DistinguishedName { CommonName(name) }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName(name)])
            },
            issuerPrivateKey: issuerKey
        )
        let tag = UUID().uuidString.prefix(6)
        let leafFile = self.directory.appendingPathComponent("leaf-\(tag).crt")
        let keyFile = self.directory.appendingPathComponent("leaf-\(tag).key")
        try (try leaf.serializeAsPEM().pemString + "\n").write(to: leafFile, atomically: true, encoding: .utf8)
        try (key.pemRepresentation + "\n").write(to: keyFile, atomically: true, encoding: .utf8)
        return PeerCertificate(leaf: leafFile.path, chain: ca.appendingPathComponent("issuer.crt").path, key: keyFile.path)
    }

    /// A second, unrelated trust anchor and issuer (what an attacker or another mesh has).
    func otherCA() async throws -> URL {
        let other = self.directory.appendingPathComponent("other-ca-\(UUID().uuidString.prefix(4))")
        let generated = try await run(ControllerProcess.binary, ["identity", "generate", "--out", other.path])
        guard generated.status == 0 else { throw HarnessError("swiftlet identity generate failed: \(generated.output)") }
        return other
    }
}

/// A certificate for openssl: the leaf, the chain sent with it (the issuer), the key.
struct PeerCertificate {
    var leaf: String
    var chain: String
    var key: String

    var opensslArguments: [String] { ["-cert", self.leaf, "-cert_chain", self.chain, "-key", self.key] }
}

/// `openssl s_server` presenting a chosen certificate: a TLS peer the proxy did not make.
final class OpenSSLServer: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    static func start(_ certificate: PeerCertificate) async throws -> OpenSSLServer {
        try E2E.need("openssl")
        let port = E2E.freePort()
        let child = try ChildProcess(
            E2E.which("openssl")!,
            ["s_server", "-accept", "127.0.0.1:\(port)"] + certificate.opensslArguments + ["-tls1_3", "-www", "-naccept", "100"],
            name: "openssl s_server"
        )
        _ = try await child.waitForLine(containing: "ACCEPT")
        return OpenSSLServer(child: child, port: port)
    }

    private init(child: ChildProcess, port: Int) {
        self.child = child
        self.port = port
    }
}

/// What `openssl s_client` saw of a TLS server.
struct OpenSSLClientResult {
    var output: String
    /// The certificates the server sent, leaf first, as PEM.
    var chain: [String]

    var protocolVersion: String? {
        ChildProcess.line(containing: "Protocol  :", in: self.output).map {
            $0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)
        }
            ?? ChildProcess.line(containing: "New, TLSv", in: self.output).flatMap { $0.split(separator: ",").dropFirst().first }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `openssl s_client` to `port` with SNI `serverName`, presenting `certificate` if given, sending `input`.
    static func connect(
        port: Int, serverName: String, certificate: PeerCertificate? = nil, alpn: String? = nil, input: String = ""
    ) async throws -> OpenSSLClientResult {
        try E2E.need("openssl")
        var arguments = [
            "15", E2E.which("openssl")!, "s_client", "-connect", "127.0.0.1:\(port)", "-servername", serverName, "-showcerts", "-tls1_3",
        ]
        if let certificate { arguments += certificate.opensslArguments }
        if let alpn { arguments += ["-alpn", alpn] }
        // With a request to send, wait for the server to close (the request says `Connection: close`).
        if !input.isEmpty { arguments.append("-ign_eof") }
        let result = try await run("timeout", arguments, input: Data(input.utf8))
        var chain: [String] = []
        var current: [Substring]? = nil
        for line in result.output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-----BEGIN CERTIFICATE-----") { current = [line] } else if current != nil { current!.append(line) }
            if line.hasPrefix("-----END CERTIFICATE-----"), let lines = current {
                chain.append(lines.joined(separator: "\n") + "\n")
                current = nil
            }
        }
        return OpenSSLClientResult(output: result.output, chain: chain)
    }
}
