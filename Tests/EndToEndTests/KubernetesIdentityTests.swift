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
            let line = try await refused.child.waitForLine(
                where: { $0.contains("certification failed") && $0.contains("unauthenticated") }, describedAs: "a refusal")
            #expect(!line.contains("unauthenticated: unauthenticated"), "the code is said once: \(line)")
            #expect(try await refused.metric("identity_cert_refreshes_total") == 0)
        }
        #expect(try await controller.metric("identity_certificates_issued_total") == 1)
        #expect(try await controller.metric("identity_certificates_refused_total") >= 2)
    }

    @Test("the issuer is read from its Secret and followed: a rotated one signs from then on, a broken one is refused, the last good stays")
    func issuerFollowedFromTheSecret() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        let directory = try E2E.temporaryDirectory()
        let ca = directory.appendingPathComponent("ca")
        let next = directory.appendingPathComponent("next")
        _ = try await run(ControllerProcess.binary, ["identity", "generate", "--out", ca.path])
        let rotated = try await run(
            ControllerProcess.binary,
            [
                "identity", "generate", "--out", next.path, "--anchor-certificate", ca.appendingPathComponent("ca.crt").path,
                "--anchor-key", ca.appendingPathComponent("ca.key").path,
            ])
        #expect(rotated.status == 0, "\(rotated.output)")
        let installed = try installObjects(
            try await TimingSensitiveTests.InstallTests.swiftlet([
                "install", "-o", "json", "--identity-trust-anchors-file", ca.appendingPathComponent("ca.crt").path,
                "--identity-issuer-certificate-file", ca.appendingPathComponent("issuer.crt").path, "--identity-issuer-key-file",
                ca.appendingPathComponent("issuer.key").path,
            ]))
        var secret = try #require(installed.object("Secret", "swiftlet-identity-issuer"))
        try await api.apply([
            KubeObjects.namespace("swiftlet"), try #require(installed.object("ConfigMap", "swiftlet-identity-trust-roots")), secret,
        ])
        try await api.registerTokens(["token-web": ("default/web", ["identity.swiftlet.io"])])
        let controller = try await ControllerProcess.start(
            source: ["--kubeconfig", api.kubeconfig.path], extra: ["--identity-issuer-secret", "swiftlet-identity-issuer"])
        defer { controller.child.stop() }
        /// The issuer certificate the identity server presents in its chain (renewed from the issuer in force).
        func presentedChain() async throws -> String {
            let result = try await run(
                "openssl", ["s_client", "-connect", "127.0.0.1:\(controller.identityPort ?? 0)", "-showcerts"], input: Data())
            return result.output
        }
        func body(_ file: URL) throws -> String {
            try String(contentsOf: file, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined(separator: "\n")
        }
        func certified() async throws -> ProxyProcess {
            let file = directory.appendingPathComponent("token-\(UUID().uuidString.prefix(6))")
            try "token-web".write(to: file, atomically: true, encoding: .utf8)
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_NAMESPACE": "default", "SWIFTLET_PROXY_IDENTITY_ADDR": "127.0.0.1:\(controller.identityPort ?? 0)",
                "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": "web.default.serviceaccount.identity.swiftlet.cluster.local",
                "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": try String(contentsOf: ca.appendingPathComponent("ca.crt"), encoding: .utf8),
                "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": file.path,
            ])
            _ = try await proxy.child.waitForLine(containing: "certified")
            return proxy
        }
        let first = try await certified()
        #expect(try await presentedChain().contains(try body(ca.appendingPathComponent("issuer.crt"))))

        // The issuer rotates (same anchor): the Secret is replaced, and the next certificates come from the new one.
        secret["data"] = [
            "tls.crt": try Data(contentsOf: next.appendingPathComponent("issuer.crt")).base64EncodedString(),
            "tls.key": try Data(contentsOf: next.appendingPathComponent("issuer.key")).base64EncodedString(),
            "ca.crt": try Data(contentsOf: ca.appendingPathComponent("ca.crt")).base64EncodedString(),
        ]
        try await api.apply([secret])
        _ = try await controller.child.waitForLine(
            where: { $0.contains("identity credentials reloaded") && $0.contains("reloads=1 ") }, describedAs: "the rotation")
        #expect(try await presentedChain().contains(try body(next.appendingPathComponent("issuer.crt"))))
        let second = try await certified()

        // A broken Secret (the key of another certificate) is refused; the rotated issuer stays in force.
        var broken = secret
        broken["data"] = [
            "tls.crt": try Data(contentsOf: next.appendingPathComponent("issuer.crt")).base64EncodedString(),
            "tls.key": try Data(contentsOf: ca.appendingPathComponent("issuer.key")).base64EncodedString(),
        ]
        try await api.apply([broken])
        _ = try await controller.child.waitForLine(containing: "identity credentials rejected")
        #expect(try await controller.metric("identity_issuer_reload_errors_total") >= 1)
        let third = try await certified()
        let chain = try await presentedChain()
        #expect(chain.contains(try body(next.appendingPathComponent("issuer.crt"))), "\(chain)\n\(controller.child.text)")
        #expect(try await controller.metric("identity_issuer_reloads_total") == 1)
        withExtendedLifetime((first, second, third)) {}
    }
}
