import Crypto
import Foundation
import Testing
import X509

/// Automatic mTLS between proxies, checked by peers the proxy did not make: curl and Python through the proxies,
/// `openssl s_client`/`s_server`/`verify` at the edges.
@Suite(.serialized, .enabled(if: E2E.available("openssl", "curl"))) struct MeshTLSTests {
    /// An application behind a meshed proxy (`server`), and a meshed client proxy (`client`) that reaches it as
    /// `web:8080` through discovery.
    struct Pair {
        let mesh: MeshFixture
        let app: FixtureProcess
        let server: ProxyProcess
        let client: ProxyProcess
    }

    static func pair(lifetime: String = "24h") async throws -> Pair {
        let mesh = try await MeshFixture.start(lifetime: lifetime, manifests: ["web.yaml": MeshFixture.service("web")])
        let app = try await FixtureProcess.start("upstream.py")
        let server = try await mesh.proxy("web", ["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(app.port)"])
        try mesh.write("web-0.yaml", MeshFixture.workload("web-0", app: "web", serviceAccount: "web", port: server.inboundPort))
        let client = try await mesh.proxy("client")
        return Pair(mesh: mesh, app: app, server: server, client: client)
    }

    @Test func aRequestBetweenTwoProxiesTravelsOverMutualTLSAndTheApplicationLearnsWhoCalled() async throws {
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        // The client application claims an identity of its own: only the proxy may say who the client is.
        let response = try await run(
            "curl",
            [
                "-sS", "--max-time", "10", "-H", "Host: web:8080", "-H",
                "swiftlet-client-id: admin.kube-system.serviceaccount.identity.swiftlet.cluster.local",
                "http://127.0.0.1:\(pair.client.outboundPort)/headers",
            ])
        #expect(response.status == 0, "\(response.output)")
        let headers = response.output.lowercased()
        #expect(headers.contains("swiftlet-client-id: \(MeshFixture.identity("client"))"), "\(response.output)")
        #expect(!headers.contains("admin.kube-system"), "\(response.output)")
        #expect(!headers.contains("swiftlet-orig-proto"), "the marker of HTTP/1.1 carried over HTTP/2 reached the application")

        let web = MeshFixture.identity("web")
        let client = MeshFixture.identity("client")
        #expect(
            try await pair.client.metric(
                "response_total", "direction=\"outbound\"", "tls=\"true\"", "server_id=\"\(web)\"", "status_code=\"200\"") == 1)
        #expect(
            try await pair.client.metric("tcp_open_total", "direction=\"outbound\"", "peer=\"dst\"", "tls=\"true\"", "server_id=\"\(web)\"")
                == 1)
        #expect(
            try await pair.server.metric(
                "response_total", "direction=\"inbound\"", "tls=\"true\"", "client_id=\"\(client)\"", "status_code=\"200\"") == 1)
        #expect(
            try await pair.server.metric(
                "tcp_open_total", "direction=\"inbound\"", "peer=\"src\"", "tls=\"true\"", "client_id=\"\(client)\"") == 1)
        // Both proxies were certified once, with a day's lifetime.
        for proxy in [pair.client, pair.server] {
            #expect(try await proxy.metric("identity_cert_refreshes_total") == 1)
            let expiry = try await proxy.metric("identity_cert_expiration_timestamp_seconds")
            #expect(abs(expiry - Date().timeIntervalSince1970 - 24 * 3600) < 120)
        }
    }

    /// A meshed proxy terminates only TLS addressed to its own identity. An application that serves TLS of its own
    /// gets its clients' TLS untouched (another SNI passes through), and unmeshed clients speaking plaintext are
    /// still served (authorization comes later), told apart in the metrics.
    @Test func aMeshedProxyPassesOtherTLSThroughAndStillServesPlaintext() async throws {
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        // Plaintext from a client without a proxy: served, with no client identity claimed for it.
        let plain = try await run("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(pair.server.inboundPort)/headers"])
        #expect(plain.status == 0, "\(plain.output)")
        #expect(!plain.output.lowercased().contains("swiftlet-client-id"), "\(plain.output)")
        #expect(
            try await pair.server.metric(
                "response_total", "direction=\"inbound\"", "tls=\"no_identity\"", "no_tls_reason=\"no_tls_from_remote\"",
                "status_code=\"200\"") == 1)

        // An application with its own certificate, behind a certified proxy.
        let directory = try E2E.temporaryDirectory()
        let (key, cert) = (directory.appendingPathComponent("key.pem").path, directory.appendingPathComponent("cert.pem").path)
        let made = try await run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=shop.example",
                "-keyout", key, "-out", cert,
            ])
        #expect(made.status == 0, "\(made.output)")
        let port = E2E.freePort()
        let app = try ChildProcess(
            E2E.which("openssl")!, ["s_server", "-accept", "127.0.0.1:\(port)", "-www", "-cert", cert, "-key", key], name: "app's own TLS")
        _ = try await app.waitForLine(containing: "ACCEPT")
        let shop = try await pair.mesh.proxy("shop", ["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(port)"])
        let result = try await OpenSSLClientResult.connect(
            port: shop.inboundPort, serverName: "shop.example", input: "GET / HTTP/1.0\r\n\r\n")
        #expect(result.chain.count == 1, "\(result.output)")
        let subject = try await run("sh", ["-c", "printf '%s' \"$0\" | openssl x509 -noout -subject", result.chain.first ?? ""])
        #expect(subject.output.contains("CN = shop.example"), "the client did not reach the application's own TLS: \(subject.output)")
        #expect(result.output.contains("s_server"), "\(result.output)")
        #expect(
            try await shop.metric(
                "tcp_open_total", "direction=\"inbound\"", "peer=\"src\"", "tls=\"no_identity\"", "no_tls_reason=\"passthru\"") == 1)
        #expect(try await shop.metric("request_total") == 0)
        withExtendedLifetime(app) {}
    }

    /// What discovery answers decides which identity a proxy demands of each peer, so the Destination API speaks
    /// only mTLS: a gRPC client with a mesh certificate (Python grpcio) is answered; one without a certificate,
    /// with another CA's, or in plaintext is refused; a proxy that expects another name of the controller takes no
    /// answer from it. (Every other test of this suite discovers over it too.)
    @Test func theDestinationAPIAnswersOnlyClientsWithAMeshCertificate() async throws {
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        let mesh = pair.mesh
        let script = E2E.fixtures.appendingPathComponent("destination_get.py").path
        let target = "127.0.0.1:\(mesh.controller.destinationPort)"
        let serverName = "destination.swiftlet.serviceaccount.identity.swiftlet.cluster.local"
        let anchors = mesh.ca.appendingPathComponent("ca.crt").path
        func ask(_ arguments: [String]) async throws -> String {
            try await run(E2E.python, [script, target, "web.demo:8080"] + arguments).output
        }
        func chainFile(_ certificate: PeerCertificate) throws -> String {
            let path = mesh.directory.appendingPathComponent("chain-\(UUID().uuidString.prefix(6)).pem").path
            let text =
                try String(contentsOfFile: certificate.leaf, encoding: .utf8) + String(contentsOfFile: certificate.chain, encoding: .utf8)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let member = try mesh.leaf(MeshFixture.identity("tool"))
        let answered = try await ask(["tls", serverName, anchors, try chainFile(member), member.key])
        #expect(answered.hasPrefix("UPDATE"), "\(answered)")

        let stranger = try mesh.leaf(MeshFixture.identity("tool"), caDirectory: try await mesh.otherCA())
        // grpcio logs the TLS alert the controller sent before the call fails.
        for (what, arguments, alert) in [
            ("no certificate", ["tls", serverName, anchors], "CERTIFICATE_REQUIRED"),
            ("another CA's certificate", ["tls", serverName, anchors, try chainFile(stranger), stranger.key], "CERTIFICATE_UNKNOWN"),
            ("plaintext", ["plaintext"], nil),
        ] {
            let refused = try await ask(arguments)
            #expect(refused.contains("ERROR UNAVAILABLE") && !refused.contains("UPDATE"), "a client with \(what) got: \(refused)")
            if let alert { #expect(refused.contains(alert), "a client with \(what) got: \(refused)") }
        }

        let misled = try await mesh.proxy("client", ["SWIFTLET_PROXY_DESTINATION_SERVER_NAME": MeshFixture.identity("web")])
        _ = try await misled.child.waitForLine(containing: "cannot follow destinations")
        for (proxy, expected) in [(pair.client, true), (misled, false)] {
            let status = try await run(
                "curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-H", "Host: web:8080",
                    "http://127.0.0.1:\(proxy.outboundPort)/",
                ])
            #expect((status.output == "200") == expected, "status \(status.output)")
        }
    }

    @Test func opensslSeesTLS13AndAChainThatVerifiesAgainstTheTrustAnchor() async throws {
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        let web = MeshFixture.identity("web")
        let caller = try pair.mesh.leaf(MeshFixture.identity("tester"))
        let result = try await OpenSSLClientResult.connect(
            port: pair.server.inboundPort, serverName: web, certificate: caller, alpn: "http/1.1",
            input: "GET /headers HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"
        )
        #expect(result.protocolVersion == "TLSv1.3", "\(result.output)")
        #expect(result.chain.count == 2, "the proxy sends its leaf and the issuer:\n\(result.output)")
        // The application answered, and was told who the (openssl) client is.
        #expect(result.output.lowercased().contains("swiftlet-client-id: \(MeshFixture.identity("tester"))"), "\(result.output)")

        let leaf = pair.mesh.directory.appendingPathComponent("served-leaf.pem")
        let issuer = pair.mesh.directory.appendingPathComponent("served-issuer.pem")
        try result.chain[0].write(to: leaf, atomically: true, encoding: .utf8)
        try result.chain.dropFirst().joined().write(to: issuer, atomically: true, encoding: .utf8)
        let verified = try await run(
            "openssl",
            [
                "verify", "-CAfile", pair.mesh.ca.appendingPathComponent("ca.crt").path, "-untrusted", issuer.path, "-purpose", "sslserver",
                leaf.path,
            ])
        #expect(verified.status == 0 && verified.output.contains(": OK"), "\(verified.output)")
        // The leaf names the workload both ways: its DNS identity and its SPIFFE ID.
        let names = try await run("openssl", ["x509", "-in", leaf.path, "-noout", "-ext", "subjectAltName"])
        #expect(names.output.contains("DNS:\(web)"), "\(names.output)")
        #expect(names.output.contains("URI:spiffe://cluster.local/ns/demo/sa/web"), "\(names.output)")
    }

    @Test func clientsWithoutACertificateOrWithAnUntrustedOrExpiredOneAreRefused() async throws {
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        let web = MeshFixture.identity("web")
        let request = "GET /headers HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"
        let other = try await pair.mesh.otherCA()
        let cases: [(String, PeerCertificate?, String)] = [
            ("no certificate", nil, "presented no certificate"),
            (
                "an untrusted chain", try pair.mesh.leaf(MeshFixture.identity("tester"), caDirectory: other),
                "does not chain to a trusted anchor"
            ),
            (
                "an expired certificate",
                try pair.mesh.leaf(MeshFixture.identity("tester"), notBefore: Date() - 7200, notAfter: Date() - 3600), "expired"
            ),
        ]
        for (what, certificate, reason) in cases {
            let result = try await OpenSSLClientResult.connect(
                port: pair.server.inboundPort, serverName: web, certificate: certificate, alpn: "http/1.1", input: request)
            #expect(!result.output.contains("HTTP/1.1 200"), "a client with \(what) was served:\n\(result.output)")
            _ = try await pair.server.child.waitForLine(
                where: { $0.contains("refused an mTLS client") && $0.contains(reason) }, describedAs: "the refusal of \(what)")
        }
        #expect(try await pair.server.metric("inbound_tcp_errors_total", "error=\"tls_handshake\"") == 3)
        #expect(try await pair.server.metric("request_total", "direction=\"inbound\"") == 0)
    }

    @Test func peersWithTheWrongIdentityAnUntrustedChainOrAnExpiredCertificateAreRefusedWithAClearError() async throws {
        let mesh = try await MeshFixture.start()
        let client = try await mesh.proxy("client")
        let web = MeshFixture.identity("web")
        let other = try await mesh.otherCA()
        // Outside TLS servers where discovery says `web` runs: each presents a certificate the client must refuse.
        let cases: [(service: String, certificate: PeerCertificate, error: String)] = [
            (
                "impostor", try mesh.leaf(MeshFixture.identity("voting")),
                "identity_mismatch: expected \(web), the peer's certificate names \(MeshFixture.identity("voting"))"
            ),
            ("untrusted", try mesh.leaf(web, caDirectory: other), "tls_handshake"),
            ("expired", try mesh.leaf(web, notBefore: Date() - 7200, notAfter: Date() - 3600), "tls_handshake"),
        ]
        var servers: [OpenSSLServer] = []
        for (service, certificate, _) in cases {
            let server = try await OpenSSLServer.start(certificate)
            servers.append(server)
            try mesh.write(
                "\(service).yaml",
                MeshFixture.service(service) + "---\n"
                    + MeshFixture.workload("\(service)-0", app: service, serviceAccount: "web", port: server.port))
        }
        defer { withExtendedLifetime((mesh, client, servers)) {} }
        let reasons = ["impostor": "identity_mismatch", "untrusted": "does not chain to a trusted anchor", "expired": "expired"]
        for (service, _, error) in cases {
            let response = try await run(
                "curl",
                [
                    "-sS", "--max-time", "10", "-o", "/dev/null", "-D", "-", "-H", "Host: \(service):8080",
                    "http://127.0.0.1:\(client.outboundPort)/",
                ])
            #expect(
                response.output.hasPrefix("HTTP/1.1 502"),
                "\(service): \(response.output) status \(response.status)\nproxy: \(client.child.text.suffix(1500))")
            let header =
                ChildProcess.line(containing: "swiftlet-proxy-error:", in: response.output.replacingOccurrences(of: "\r\n", with: "\n"))
                ?? ""
            #expect(header.contains(error) && header.contains(reasons[service]!), "\(service): \(header) in \(response.output)")
        }
        #expect(try await client.metric("outbound_http_errors_total", "error=\"identity_mismatch\"") == 1)
        #expect(try await client.metric("outbound_http_errors_total", "error=\"tls_handshake\"") == 2)
    }
}

extension MeshTLSTests {
    /// Waits for `proxy`'s `count`-th certificate (its log says `certified … refreshes=<n>`).
    static func waitForCertificate(_ count: Int, of proxy: ProxyProcess, timeout: Duration = .seconds(30)) async throws {
        _ = try await proxy.child.waitForLine(
            where: { $0.contains("certified") && $0.contains("refreshes=\(count) ") || $0.hasSuffix("refreshes=\(count)") },
            describedAs: "certificate #\(count)", timeout: timeout
        )
    }

    /// With certificates living ten seconds, steady traffic between two proxies goes on through renewal after
    /// renewal and through the issuer being replaced under it, without one failed request.
    @Test func trafficRunsThroughRenewalsAndAnIssuerRotationWithoutAFailedRequest() async throws {
        let pair = try await Self.pair(lifetime: "10s")
        defer { withExtendedLifetime(pair) {} }
        let load = try LoadProcess(port: pair.client.outboundPort, authority: "web:8080", connections: 4)
        try await load.waitFor("traffic through the pair") { $0.ok >= 100 }
        for proxy in [pair.client, pair.server] { try await Self.waitForCertificate(2, of: proxy) }

        // A new issuer under the same anchor, put in place as a user (or cert-manager) would: files renamed in.
        let next = pair.mesh.directory.appendingPathComponent("ca-next")
        let generated = try await run(
            ControllerProcess.binary,
            [
                "identity", "generate", "--out", next.path, "--anchor-certificate", pair.mesh.ca.appendingPathComponent("ca.crt").path,
                "--anchor-key", pair.mesh.ca.appendingPathComponent("ca.key").path,
            ])
        #expect(generated.status == 0, "\(generated.output)")
        let newIssuerPEM = try String(contentsOf: next.appendingPathComponent("issuer.crt"), encoding: .utf8)
        for file in ["issuer.key", "issuer.crt"] {
            #expect(rename(next.appendingPathComponent(file).path, pair.mesh.ca.appendingPathComponent(file).path) == 0)
        }
        _ = try await pair.mesh.controller.child.waitForLine(containing: "identity credentials reloaded")
        // Both proxies renew from the new issuer, and renew again after that.
        for proxy in [pair.client, pair.server] { try await Self.waitForCertificate(4, of: proxy) }
        let presented = try await OpenSSLClientResult.connect(
            port: pair.server.inboundPort, serverName: MeshFixture.identity("web"),
            certificate: try pair.mesh.leaf(MeshFixture.identity("tester"))
        )
        #expect(
            presented.chain.count == 2 && presented.chain[1] == newIssuerPEM,
            "the server still presents the old issuer:\n\(presented.output)")

        let final = try await load.finish()
        #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
        #expect(final.ok > 1000)
        #expect(try await pair.mesh.controller.metric("identity_issuer_reloads_total") == 1)
        for proxy in [pair.client, pair.server] {
            #expect(try await proxy.metric("identity_cert_refreshes_total") >= 4)
            #expect(try await proxy.metric("identity_cert_refresh_failures_total") == 0)
        }
    }
}

extension MeshTLSTests {
    /// The count in a proxy's last `certified … refreshes=<n>` line.
    static func certificates(of proxy: ProxyProcess) -> Int {
        proxy.child.text.split(separator: "\n").filter { $0.contains("certified") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("refreshes=") }.flatMap { Int($0.dropFirst("refreshes=".count)) }
        }.max() ?? 0
    }

    /// Waits until every proxy got a certificate after this moment (and so the controller's current bundle).
    static func waitForRenewal(_ proxies: [ProxyProcess]) async throws {
        let now = proxies.map { Self.certificates(of: $0) }
        for (proxy, count) in zip(proxies, now) { try await Self.waitForCertificate(count + 1, of: proxy) }
    }

    /// A trust anchor rotated as operators do it: add the new anchor beside the old, move the issuer under the new
    /// one, remove the old. Traffic never fails, no proxy restarts, and a proxy started afterwards that knows only
    /// the new anchor talks to the old ones.
    @Test func aTrustAnchorRotatesWithoutARestartOrAFailedRequest() async throws {
        let pair = try await Self.pair(lifetime: "10s")
        defer { withExtendedLifetime(pair) {} }
        let proxies = [pair.client, pair.server]
        let load = try LoadProcess(port: pair.client.outboundPort, authority: "web:8080", connections: 4)
        try await load.waitFor("traffic through the pair") { $0.ok >= 100 }
        let ca = pair.mesh.ca
        let next = pair.mesh.directory.appendingPathComponent("ca-next")
        let generated = try await run(ControllerProcess.binary, ["identity", "generate", "--out", next.path])
        #expect(generated.status == 0, "\(generated.output)")
        let oldAnchor = try String(contentsOf: ca.appendingPathComponent("ca.crt"), encoding: .utf8)
        let newAnchor = try String(contentsOf: next.appendingPathComponent("ca.crt"), encoding: .utf8)
        func replace(_ file: String, with text: String) throws {
            let temporary = ca.appendingPathComponent(file + ".new")
            try text.write(to: temporary, atomically: false, encoding: .utf8)
            #expect(rename(temporary.path, ca.appendingPathComponent(file).path) == 0)
        }
        func reloaded(_ count: Int) async throws {
            _ = try await pair.mesh.controller.child.waitForLine(
                where: { $0.contains("identity credentials reloaded") && $0.contains("reloads=\(count) ") }, describedAs: "reload #\(count)"
            )
        }

        // 1. Both anchors trusted; every proxy learns the bundle with its next certificate.
        try replace("ca.crt", with: oldAnchor + newAnchor)
        try await reloaded(1)
        try await Self.waitForRenewal(proxies)
        // 2. The issuer moves under the new anchor; proxies renew from it. (The old issuer is kept aside, to show
        // at the end that what it signs is no longer trusted.)
        let oldCA = pair.mesh.directory.appendingPathComponent("ca-old")
        try FileManager.default.createDirectory(at: oldCA, withIntermediateDirectories: true)
        for file in ["issuer.key", "issuer.crt"] {
            try FileManager.default.copyItem(at: ca.appendingPathComponent(file), to: oldCA.appendingPathComponent(file))
        }
        for file in ["issuer.key", "issuer.crt"] {
            #expect(rename(next.appendingPathComponent(file).path, ca.appendingPathComponent(file).path) == 0)
        }
        try await reloaded(2)
        try await Self.waitForRenewal(proxies)
        // 3. The old anchor goes.
        try replace("ca.crt", with: newAnchor)
        try await reloaded(3)
        try await Self.waitForRenewal(proxies)

        // A proxy that only ever knew the new anchor: fresh handshakes both ways, verified against the new anchor.
        let late = try await pair.mesh.proxy("late", ["SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": newAnchor])
        let response = try await run(
            "curl", ["-sS", "--max-time", "10", "-H", "Host: web:8080", "http://127.0.0.1:\(late.outboundPort)/headers"])
        #expect(response.output.lowercased().contains("swiftlet-client-id: \(MeshFixture.identity("late"))"), "\(response.output)")
        // And the old anchor is no longer trusted by the server: a client certificate under it is refused.
        let stale = try await OpenSSLClientResult.connect(
            port: pair.server.inboundPort, serverName: MeshFixture.identity("web"),
            certificate: try pair.mesh.leaf(MeshFixture.identity("tester"), caDirectory: oldCA),
            alpn: "http/1.1", input: "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"
        )
        #expect(!stale.output.contains("HTTP/1.1 200"), "a certificate under the removed anchor was accepted:\n\(stale.output)")

        let final = try await load.finish()
        #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
        #expect(try await pair.mesh.controller.metric("identity_issuer_reloads_total") == 3)
        withExtendedLifetime(late) {}
    }
}

extension MeshTLSTests {
    /// The proxy's private key exists only in its memory: no file written while it ran holds it, and the proxy
    /// holds no regular file open. The scan is shown to work on a key that was written on purpose.
    @Test func theProxysPrivateKeyIsNeverWrittenToDisk() async throws {
        let started = Date() - 1
        let pair = try await Self.pair()
        defer { withExtendedLifetime(pair) {} }
        // Traffic both ways, so the key has been used for handshakes as a server and as a client.
        let response = try await run(
            "curl", ["-sS", "--max-time", "10", "-H", "Host: web:8080", "http://127.0.0.1:\(pair.client.outboundPort)/"])
        #expect(response.output == "ok /", "\(response.output)")
        let served = try await OpenSSLClientResult.connect(
            port: pair.server.inboundPort, serverName: MeshFixture.identity("web"),
            certificate: try pair.mesh.leaf(MeshFixture.identity("tester"))
        )
        let leaf = try Certificate(pemEncoded: try #require(served.chain.first))
        let point = Array(leaf.publicKey.subjectPublicKeyInfoBytes.suffix(65))
        #expect(point.first == 0x04 && point.count == 65)

        let roots = ["/tmp", "/var/tmp", "/dev/shm", E2E.packageRoot.path, NSHomeDirectory()]
        let skipping: Set<String> = [
            ".build", ".build-release", ".build-protoc", ".git", ".venv-test", ".cache", ".pyenv", ".cargo", ".rustup", "swift-packages",
        ]
        let leaked = KeyScanner.filesHoldingPrivateKey(of: point, under: roots, modifiedSince: started, skipping: skipping)
        #expect(leaked.isEmpty, "the server proxy's private key is in \(leaked)")

        // The same scan finds a key that is written, in either encoding.
        let decoy = P256.Signing.PrivateKey()
        try decoy.pemRepresentation.write(to: pair.mesh.directory.appendingPathComponent("decoy.pem"), atomically: true, encoding: .utf8)
        try Data(decoy.derRepresentation).write(to: pair.mesh.directory.appendingPathComponent("decoy.der"))
        let found = KeyScanner.filesHoldingPrivateKey(
            of: Array(decoy.publicKey.x963Representation), under: [pair.mesh.directory.path], modifiedSince: started, skipping: []
        )
        #expect(found.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted() == ["decoy.der", "decoy.pem"])

        // And neither proxy holds a regular file open (where it could be writing one).
        for proxy in [pair.client, pair.server] {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(proxy.child.pid)/fd")) ?? []
            let files = descriptors.compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(proxy.child.pid)/fd/\($0)")
            }
            .filter { $0.hasPrefix("/") && !$0.hasPrefix("/dev/") && !$0.hasPrefix("/proc/") }
            #expect(files.isEmpty, "the proxy holds files open: \(files)")
            #expect(!descriptors.isEmpty)
        }
    }
}

extension MeshTLSTests {
    /// The identity service signs only for the service account a token proves: a wrong token, or a right token
    /// used to ask for another identity, gets no certificate, and such a proxy stays unready and says why.
    @Test func aProxyWhoseTokenDoesNotProveItsIdentityIsNeitherCertifiedNorReady() async throws {
        let mesh = try await MeshFixture.start()
        let wrongToken = mesh.directory.appendingPathComponent("wrong-token")
        try "not-the-token".write(to: wrongToken, atomically: true, encoding: .utf8)
        _ = try mesh.token(for: "web")
        let guessing = try await mesh.uncertifiedProxy("web", ["SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": wrongToken.path])
        // A real token of `client`, used to ask for `web`'s identity.
        let borrowing = try await mesh.uncertifiedProxy("web", ["SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": try mesh.token(for: "client")])
        defer { withExtendedLifetime((mesh, guessing, borrowing)) {} }
        for proxy in [guessing, borrowing] {
            _ = try await proxy.child.waitForLine(
                where: { $0.contains("certification failed") && $0.contains("unauthenticated") }, describedAs: "a refusal")
            let ready = try await run("curl", ["-sS", "-w", "%{http_code}", "http://127.0.0.1:\(proxy.adminPort)/ready"])
            #expect(ready.output == "not ready: waiting for a certificate\n503", "\(ready.output)")
            #expect(try await proxy.metric("identity_cert_refreshes_total") == 0)
            #expect(try await proxy.metric("identity_cert_refresh_failures_total") >= 1)
        }
        #expect(try await mesh.controller.metric("identity_certificates_refused_total") >= 2)
        #expect(try await mesh.controller.metric("identity_certificates_issued_total") == 0)
    }
}
