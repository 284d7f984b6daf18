import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

/// Where scripts/install-test-deps puts kubernetes-validate (with the schemas of every Kubernetes version, offline).
enum KubernetesValidate {
    static var path: String { E2E.packageRoot.appendingPathComponent(".venv-test/bin/kubernetes-validate").path }
    static var available: Bool { E2E.required || FileManager.default.isExecutableFile(atPath: path) }

    /// Validates `text` strictly (unknown fields refused) against each version; returns the tool's complaints.
    static func check(_ text: String, versions: [String] = ["1.31", "1.35"]) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for version in versions {
            let result = try await run(Self.path, ["--strict", "--quiet", "-k", version, file.path])
            #expect(result.status == 0, "kubernetes-validate --strict -k \(version):\n\(result.output)")
        }
    }
}

/// Documents of a YAML or JSON stream as dictionaries, through the same YAML → JSON path `-o json` prints.
func installObjects(_ json: String) throws -> [[String: Any]] {
    try json.components(separatedBy: "---\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.map {
        guard let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else {
            throw HarnessError("not an object: \($0)")
        }
        return object
    }
}

extension [[String: Any]] {
    func object(_ kind: String, _ name: String) -> [String: Any]? {
        self.first { $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name }
    }
}

func field(_ object: [String: Any]?, _ path: String...) -> Any? {
    var current: Any? = object
    for key in path {
        if let index = Int(key), let array = current as? [Any] {
            current = index < array.count ? array[index] : nil
        } else {
            current = (current as? [String: Any])?[key]
        }
    }
    return current
}

func decodedData(_ object: [String: Any]?, _ key: String) -> String {
    guard let text = field(object, "data", key) as? String, let data = Data(base64Encoded: text) else { return "" }
    return String(decoding: data, as: UTF8.self)
}

extension TimingSensitiveTests {
    /// `swiftlet install`, `uninstall` and `upgrade`: what they print validates strictly against the Kubernetes versions
    /// we support, and carries certificates that fit together.
    @Suite(.enabled(if: KubernetesValidate.available, "kubernetes-validate is installed by scripts/install-test-deps"))
    struct InstallTests {
        static func swiftlet(_ arguments: [String]) async throws -> String {
            let result = try await run(ControllerProcess.binary, arguments)
            guard result.status == 0 else {
                throw HarnessError("swiftlet \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)")
            }
            return result.output
        }

        @Test("install (plain and --ha) validates strict against 1.31 and 1.35, in YAML and JSON", arguments: [false, true])
        func installValidates(ha: Bool) async throws {
            let flags = ha ? ["--ha"] : []
            let yaml = try await Self.swiftlet(["install"] + flags)
            try await KubernetesValidate.check(yaml)
            let json = try await Self.swiftlet(["install", "-o", "json"] + flags)
            try await KubernetesValidate.check(json)
            let objects = try installObjects(json)
            let deployment = objects.object("Deployment", "swiftlet-controller")
            #expect(field(deployment, "spec", "replicas") as? Int == (ha ? 3 : 1))
            #expect((field(deployment, "spec", "template", "spec", "affinity", "podAntiAffinity") != nil) == ha)
            #expect((objects.object("PodDisruptionBudget", "swiftlet-controller") != nil) == ha)
            let webhook = objects.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")
            #expect(field(webhook, "webhooks", "0", "failurePolicy") as? String == (ha ? "Fail" : "Ignore"))
            #expect(objects.filter { $0["kind"] as? String == "CustomResourceDefinition" }.count <= 3, "our CRD budget is three")
            // The mesh's own Services, on the ports proxies and the API server dial.
            #expect(field(objects.object("Service", "swiftlet-dst"), "spec", "ports", "0", "port") as? Int == 8086)
            #expect(field(objects.object("Service", "swiftlet-identity"), "spec", "ports", "0", "port") as? Int == 8080)
            #expect(field(objects.object("Service", "swiftlet-injector"), "spec", "ports", "0", "targetPort") as? Int == 8443)
            // Least privilege: the controller writes nothing but reviews cluster-wide (tokens for identity, access for tap).
            let rules = field(objects.object("ClusterRole", "swiftlet-controller"), "rules") as? [[String: Any]] ?? []
            let verbs = Set(rules.flatMap { $0["verbs"] as? [String] ?? [] })
            #expect(verbs == ["get", "list", "watch", "create"])
            #expect(
                rules.filter { ($0["verbs"] as? [String])?.contains("create") == true }.flatMap { $0["resources"] as? [String] ?? [] } == [
                    "tokenreviews", "subjectaccessreviews",
                ])
            // Tap: an aggregated API, and a role for who may tap (watch on <kind>/tap in its group, nothing else).
            let apiService = objects.object("APIService", "v1alpha1.tap.swiftlet.io")
            #expect(field(apiService, "spec", "service", "name") as? String == "swiftlet-tap")
            #expect(field(objects.object("Service", "swiftlet-tap"), "spec", "ports", "0", "targetPort") as? Int == 8089)
            let tapRules = field(objects.object("ClusterRole", "swiftlet-tap-admin"), "rules") as? [[String: Any]] ?? []
            #expect(
                tapRules.count == 1 && tapRules[0]["apiGroups"] as? [String] == ["tap.swiftlet.io"]
                    && tapRules[0]["verbs"] as? [String] == ["watch"])
            try Self.checkCredentials(objects)
            // Exactly three private keys leave `install`: the issuer's, the injector's and the tap API's; the anchor's was dropped.
            #expect(yaml.components(separatedBy: "PRIVATE KEY-----").count - 1 == 0, "keys are base64 in Secrets, never in clear text")
            let keys = [
                decodedData(objects.object("Secret", "swiftlet-identity-issuer"), "tls.key"),
                decodedData(objects.object("Secret", "swiftlet-injector-tls"), "tls.key"),
                decodedData(objects.object("Secret", "swiftlet-tap-tls"), "tls.key"),
            ]
            #expect(keys.allSatisfy { $0.contains("PRIVATE KEY") })
        }

        /// The issuer chains to the anchors and holds its key; the webhook's caBundle verifies the injector's certificate
        /// for the name the API server dials.
        static func checkCredentials(_ objects: [[String: Any]]) throws {
            let anchorsPEM = try #require(
                field(objects.object("ConfigMap", "swiftlet-identity-trust-roots"), "data", "ca-bundle.crt") as? String)
            let anchors = try PEMDocument.parseMultiple(pemString: anchorsPEM).map { try Certificate(pemDocument: $0) }
            let issuerSecret = objects.object("Secret", "swiftlet-identity-issuer")
            #expect(field(issuerSecret, "type") as? String == "kubernetes.io/tls")
            let issuer = try Certificate(pemEncoded: decodedData(issuerSecret, "tls.crt"))
            let issuerKey = try Certificate.PrivateKey(pemEncoded: decodedData(issuerSecret, "tls.key"))
            #expect(issuerKey.publicKey == issuer.publicKey)
            #expect(anchors.contains { $0.subject == issuer.issuer && $0.publicKey.isValidSignature(issuer.signature, for: issuer) })

            // Each caBundle the API server is given verifies its serving certificate for the name it dials: the
            // webhook's (the injector) and the APIService's (the tap API).
            let webhook = objects.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")
            try Self.checkServing(
                field(webhook, "webhooks", "0", "clientConfig", "caBundle"), objects.object("Secret", "swiftlet-injector-tls"),
                "swiftlet-injector.swiftlet.svc")
            let apiService = objects.object("APIService", "v1alpha1.tap.swiftlet.io")
            try Self.checkServing(
                field(apiService, "spec", "caBundle"), objects.object("Secret", "swiftlet-tap-tls"), "swiftlet-tap.swiftlet.svc")
        }

        static func checkServing(_ caBundle: Any?, _ secret: [String: Any]?, _ name: String) throws {
            let bundle = try #require((caBundle as? String).flatMap { Data(base64Encoded: $0) })
            let ca = try Certificate(pemEncoded: String(decoding: bundle, as: UTF8.self))
            let serving = try Certificate(pemEncoded: decodedData(secret, "tls.crt"))
            #expect(ca.publicKey.isValidSignature(serving.signature, for: serving))
            #expect(try serving.extensions.subjectAlternativeNames?.contains(.dnsName(name)) == true)
            #expect(try Certificate.PrivateKey(pemEncoded: decodedData(secret, "tls.key")).publicKey == serving.publicKey)
        }

        @Test("install with the user's anchors and issuer carries exactly them; an issuer under another anchor is refused")
        func installWithGivenCertificates() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = directory.appendingPathComponent("first").path
            let other = directory.appendingPathComponent("other").path
            _ = try await Self.swiftlet(["identity", "generate", "--out", first])
            _ = try await Self.swiftlet(["identity", "generate", "--out", other])
            let yaml = try await Self.swiftlet([
                "install", "--identity-trust-anchors-file", first + "/ca.crt", "--identity-issuer-certificate-file", first + "/issuer.crt",
                "--identity-issuer-key-file", first + "/issuer.key",
            ])
            try await KubernetesValidate.check(yaml)
            let objects = try installObjects(
                try await Self.swiftlet([
                    "install", "-o", "json", "--identity-trust-anchors-file", first + "/ca.crt", "--identity-issuer-certificate-file",
                    first + "/issuer.crt",
                    "--identity-issuer-key-file", first + "/issuer.key",
                ]))
            #expect(
                field(objects.object("ConfigMap", "swiftlet-identity-trust-roots"), "data", "ca-bundle.crt") as? String
                    == (try String(contentsOfFile: first + "/ca.crt", encoding: .utf8)))
            #expect(
                decodedData(objects.object("Secret", "swiftlet-identity-issuer"), "tls.crt")
                    == (try String(contentsOfFile: first + "/issuer.crt", encoding: .utf8)))
            #expect(
                decodedData(objects.object("Secret", "swiftlet-identity-issuer"), "tls.key")
                    == (try String(contentsOfFile: first + "/issuer.key", encoding: .utf8)))
            try Self.checkCredentials(objects)

            let mismatched = try await run(
                ControllerProcess.binary,
                [
                    "install", "--identity-trust-anchors-file", other + "/ca.crt", "--identity-issuer-certificate-file",
                    first + "/issuer.crt",
                    "--identity-issuer-key-file", first + "/issuer.key",
                ])
            #expect(mismatched.status != 0)
            #expect(mismatched.output.contains("issuer.crt") && !mismatched.output.contains("kind: Namespace"), "\(mismatched.output)")
            let partial = try await run(ControllerProcess.binary, ["install", "--identity-trust-anchors-file", first + "/ca.crt"])
            #expect(partial.status != 0 && partial.output.contains("go together"), "\(partial.output)")
            let badSet = try await run(ControllerProcess.binary, ["install", "--set", "proxy.resources.memory.limit=lots"])
            #expect(badSet.status != 0 && badSet.output.contains("proxy.resources.memory.limit=lots"), "\(badSet.output)")
        }

        @Test("uninstall names the webhook first and the namespace last")
        func uninstall() async throws {
            let objects = try installObjects(try await Self.swiftlet(["uninstall", "-o", "json"]))
            #expect(objects.first?["kind"] as? String == "MutatingWebhookConfiguration")
            #expect(objects.last?["kind"] as? String == "Namespace")
            let installed = try installObjects(try await Self.swiftlet(["install", "-o", "json"]))
            // Everything cluster-wide that install creates is deleted; the rest goes with the namespace.
            let clusterWide = installed.filter { ($0["metadata"] as? [String: Any])?["namespace"] == nil }
            for object in clusterWide {
                #expect(
                    objects.contains {
                        $0["kind"] as? String == object["kind"] as? String
                            && field($0, "metadata", "name") as? String == field(object, "metadata", "name") as? String
                    })
            }
        }

        @Test(
            "upgrade reads the cluster's values, anchors, issuer, injector and tap certificates back and keeps them",
            .enabled(if: E2E.available("openssl", "curl")))
        func upgradeKeepsCredentials() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            let installed = try installObjects(
                try await Self.swiftlet([
                    "install", "-o", "json", "--ha", "--set", "controller.replicas=5", "--set", "registry=registry.example/mesh",
                ]))
            try await api.apply(installed)
            let upgraded = try installObjects(
                try await Self.swiftlet(["upgrade", "-o", "json", "--kubeconfig", api.kubeconfig.path, "--set", "proxy.logLevel=debug"]))
            for (kind, name) in [
                ("ConfigMap", "swiftlet-identity-trust-roots"), ("Secret", "swiftlet-identity-issuer"), ("Secret", "swiftlet-injector-tls"),
                ("Secret", "swiftlet-tap-tls"),
            ] {
                #expect(
                    field(upgraded.object(kind, name), "data") as? NSDictionary == field(installed.object(kind, name), "data")
                        as? NSDictionary, "\(kind) \(name)")
            }
            #expect(
                field(
                    upgraded.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector"), "webhooks", "0", "clientConfig", "caBundle")
                    as? String
                    == field(
                        installed.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector"), "webhooks", "0", "clientConfig",
                        "caBundle") as? String)
            let deployment = upgraded.object("Deployment", "swiftlet-controller")
            #expect(field(deployment, "spec", "replicas") as? Int == 5, "values stored at install stay")
            #expect(
                (field(deployment, "spec", "template", "spec", "containers", "0", "image") as? String)?.hasPrefix("registry.example/mesh/")
                    == true)
            #expect(upgraded.object("PodDisruptionBudget", "swiftlet-controller") != nil)
            let values = field(upgraded.object("ConfigMap", "swiftlet-config"), "data", "values.yaml") as? String ?? ""
            #expect(values.contains("\"proxy.logLevel\": \"debug\""))
            try await KubernetesValidate.check(try await Self.swiftlet(["upgrade", "--kubeconfig", api.kubeconfig.path]))

            // Without an install to read, upgrade says so instead of printing a fresh one with new anchors.
            try await api.delete("Secret", namespace: "swiftlet", "swiftlet-identity-issuer")
            let refused = try await run(ControllerProcess.binary, ["upgrade", "--kubeconfig", api.kubeconfig.path])
            #expect(refused.status != 0 && refused.output.contains("swiftlet-identity-issuer"), "\(refused.output)")
        }
    }
}
