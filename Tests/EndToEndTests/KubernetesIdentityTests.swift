import Foundation
import Testing

/// Identity on Kubernetes end to end: a proxy proves its service account with its projected token, which the
/// controller checks with a TokenReview against the (test) API server.
@Suite(.enabled(if: E2E.available("openssl", "curl")))
struct KubernetesIdentityTests {
    @Test("a proxy is certified through a TokenReview; another account's token, or a token for another audience, is refused")
    func certifiedThroughTokenReview() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        let directory = try E2E.temporaryDirectory()
        let ca = directory.appendingPathComponent("ca")
        _ = try await run(ControllerProcess.binary, ["identity", "generate", "--out", ca.path])
        try await api.registerTokens([
            "token-web": ("default/web", ["identity.swiftlet.io"]),
            "token-client": ("default/client", ["identity.swiftlet.io"]),
            "token-web-for-the-api": ("default/web", ["https://kubernetes.default.svc"]),
        ])
        let controller = try await ControllerProcess.start(
            source: ["--kubeconfig", api.kubeconfig.path],
            extra: [
                "--identity-trust-anchors", ca.appendingPathComponent("ca.crt").path,
                "--identity-issuer-certificate", ca.appendingPathComponent("issuer.crt").path,
                "--identity-issuer-key", ca.appendingPathComponent("issuer.key").path,
            ]
        )
        defer { controller.child.stop() }
        func proxy(token: String) async throws -> ProxyProcess {
            let file = directory.appendingPathComponent("token-\(UUID().uuidString.prefix(6))")
            try token.write(to: file, atomically: true, encoding: .utf8)
            return try await ProxyProcess.start([
                "SWIFTLET_PROXY_NAMESPACE": "default",
                "SWIFTLET_PROXY_IDENTITY_ADDR": "127.0.0.1:\(controller.identityPort ?? 0)",
                "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": "web.default.serviceaccount.identity.swiftlet.cluster.local",
                "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": try String(contentsOf: ca.appendingPathComponent("ca.crt"), encoding: .utf8),
                "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": file.path,
            ])
        }
        let web = try await proxy(token: "token-web")
        _ = try await web.child.waitForLine(containing: "certified")
        let ready = try await run("curl", ["-sS", "-w", "%{http_code}", "http://127.0.0.1:\(web.adminPort)/ready"])
        #expect(ready.output.hasSuffix("200"), "\(ready.output)")

        let borrowing = try await proxy(token: "token-client")
        let wrongAudience = try await proxy(token: "token-web-for-the-api")
        defer { withExtendedLifetime((web, borrowing, wrongAudience)) {} }
        for refused in [borrowing, wrongAudience] {
            _ = try await refused.child.waitForLine(where: { $0.contains("certification failed") && $0.contains("unauthenticated") }, describedAs: "a refusal")
            #expect(try await refused.metric("identity_cert_refreshes_total") == 0)
        }
        #expect(try await controller.metric("identity_certificates_issued_total") == 1)
        #expect(try await controller.metric("identity_certificates_refused_total") >= 2)
    }
}
