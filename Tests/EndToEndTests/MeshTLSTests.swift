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
        let response = try await run("curl", [
            "-sS", "--max-time", "10", "-H", "Host: web:8080", "-H", "swiftlet-client-id: admin.kube-system.serviceaccount.identity.swiftlet.cluster.local",
            "http://127.0.0.1:\(pair.client.outboundPort)/headers",
        ])
        #expect(response.status == 0, "\(response.output)")
        let headers = response.output.lowercased()
        #expect(headers.contains("swiftlet-client-id: \(MeshFixture.identity("client"))"), "\(response.output)")
        #expect(!headers.contains("admin.kube-system"), "\(response.output)")
        #expect(!headers.contains("swiftlet-orig-proto"), "the marker of HTTP/1.1 carried over HTTP/2 reached the application")

        let web = MeshFixture.identity("web")
        let client = MeshFixture.identity("client")
        #expect(try await pair.client.metric("response_total", "direction=\"outbound\"", "tls=\"true\"", "server_id=\"\(web)\"", "status_code=\"200\"") == 1)
        #expect(try await pair.client.metric("tcp_open_total", "direction=\"outbound\"", "peer=\"dst\"", "tls=\"true\"", "server_id=\"\(web)\"") == 1)
        #expect(try await pair.server.metric("response_total", "direction=\"inbound\"", "tls=\"true\"", "client_id=\"\(client)\"", "status_code=\"200\"") == 1)
        #expect(try await pair.server.metric("tcp_open_total", "direction=\"inbound\"", "peer=\"src\"", "tls=\"true\"", "client_id=\"\(client)\"") == 1)
        // Both proxies were certified once, with a day's lifetime.
        for proxy in [pair.client, pair.server] {
            #expect(try await proxy.metric("identity_cert_refreshes_total") == 1)
            let expiry = try await proxy.metric("identity_cert_expiration_timestamp_seconds")
            #expect(abs(expiry - Date().timeIntervalSince1970 - 24 * 3600) < 120)
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
        let verified = try await run("openssl", [
            "verify", "-CAfile", pair.mesh.ca.appendingPathComponent("ca.crt").path, "-untrusted", issuer.path, "-purpose", "sslserver", leaf.path,
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
            ("an untrusted chain", try pair.mesh.leaf(MeshFixture.identity("tester"), caDirectory: other), "does not chain to a trusted anchor"),
            ("an expired certificate", try pair.mesh.leaf(MeshFixture.identity("tester"), notBefore: Date() - 7200, notAfter: Date() - 3600), "expired"),
        ]
        for (what, certificate, reason) in cases {
            let result = try await OpenSSLClientResult.connect(port: pair.server.inboundPort, serverName: web, certificate: certificate, alpn: "http/1.1", input: request)
            #expect(!result.output.contains("HTTP/1.1 200"), "a client with \(what) was served:\n\(result.output)")
            _ = try await pair.server.child.waitForLine(where: { $0.contains("refused an mTLS client") && $0.contains(reason) }, describedAs: "the refusal of \(what)")
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
            ("impostor", try mesh.leaf(MeshFixture.identity("voting")), "identity_mismatch: expected \(web), the peer's certificate names \(MeshFixture.identity("voting"))"),
            ("untrusted", try mesh.leaf(web, caDirectory: other), "tls_handshake"),
            ("expired", try mesh.leaf(web, notBefore: Date() - 7200, notAfter: Date() - 3600), "tls_handshake"),
        ]
        var servers: [OpenSSLServer] = []
        for (service, certificate, _) in cases {
            let server = try await OpenSSLServer.start(certificate)
            servers.append(server)
            try mesh.write("\(service).yaml", MeshFixture.service(service) + "---\n" + MeshFixture.workload("\(service)-0", app: service, serviceAccount: "web", port: server.port))
        }
        defer { withExtendedLifetime((mesh, client, servers)) {} }
        let reasons = ["impostor": "identity_mismatch", "untrusted": "does not chain to a trusted anchor", "expired": "expired"]
        for (service, _, error) in cases {
            let response = try await run("curl", [
                "-sS", "--max-time", "10", "-o", "/dev/null", "-D", "-", "-H", "Host: \(service):8080", "http://127.0.0.1:\(client.outboundPort)/",
            ])
            #expect(response.output.hasPrefix("HTTP/1.1 502"), "\(service): \(response.output) status \(response.status)\nproxy: \(client.child.text.suffix(1500))")
            let header = ChildProcess.line(containing: "swiftlet-proxy-error:", in: response.output.replacingOccurrences(of: "\r\n", with: "\n")) ?? ""
            #expect(header.contains(error) && header.contains(reasons[service]!), "\(service): \(header) in \(response.output)")
        }
        #expect(try await client.metric("outbound_http_errors_total", "error=\"identity_mismatch\"") == 1)
        #expect(try await client.metric("outbound_http_errors_total", "error=\"tls_handshake\"") == 2)
    }
}
