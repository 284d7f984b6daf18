import Foundation
import ProxyCore
import Testing

extension TimingSensitiveTests {
    /// `swiftlet check` against the test API server: healthy, then each failure it detects, each with its hint.
    @Suite(.enabled(if: E2E.available("openssl", "curl")))
    struct CheckTests {
        static func check(_ api: KubeAPIServer, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
            try await run(ControllerProcess.binary, ["check", "--kubeconfig", api.kubeconfig.path] + arguments)
        }

        static func gatewayCRD(_ plural: String, versions: [String] = ["v1"]) -> [String: Any] {
            [
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": ["name": "\(plural).gateway.networking.k8s.io"],
                "spec": [
                    "group": "gateway.networking.k8s.io", "scope": "Namespaced",
                    "names": ["plural": plural, "kind": plural == "httproutes" ? "HTTPRoute" : "GRPCRoute"],
                    "versions": versions.map { ["name": $0, "served": true, "storage": $0 == versions.last] },
                ],
            ]
        }

        static func controllerPod(ready: Bool) -> [String: Any] {
            [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": "swiftlet-controller-7c9d8-abcde", "namespace": "swiftlet", "labels": ["swiftlet.io/control-plane-component": "controller"]],
                "spec": ["containers": [["name": "controller", "image": "ghcr.io/swiftlet/swiftlet:\(SwiftletVersion.current)"]]],
                "status": ["phase": ready ? "Running" : "Pending", "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]],
            ]
        }

        static func meshedPod(ready: Bool, version: String = SwiftletVersion.current) -> [String: Any] {
            [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": [
                    "name": "web-5d9c7b-x2x7q", "namespace": "shop", "labels": ["app": "web", "swiftlet.io/control-plane-ns": "swiftlet"],
                    "annotations": ["swiftlet.io/proxy-version": version],
                ],
                "spec": ["containers": [["name": "web", "image": "registry.example/web:1"]]],
                "status": ["phase": "Running", "initContainerStatuses": [["name": "swiftlet-init", "ready": false], ["name": "swiftlet-proxy", "ready": ready]]],
            ]
        }

        /// A cluster with the control plane installed and running, the Gateway API's CRDs, and one meshed pod.
        static func healthy(_ api: KubeAPIServer) async throws -> [[String: Any]] {
            let installed = try installObjects(try await InstallTests.swiftlet(["install", "-o", "json"]))
            try await api.apply(installed + [
                Self.gatewayCRD("httproutes"), Self.gatewayCRD("grpcroutes"), Self.controllerPod(ready: true),
                ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]], Self.meshedPod(ready: true),
            ])
            return installed
        }

        static func expectFailure(_ result: (status: Int32, output: String), _ check: String, hint: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(result.status == 1, "\(result.output)", sourceLocation: sourceLocation)
            #expect(result.output.contains("× \(check)"), "\(result.output)", sourceLocation: sourceLocation)
            // The check's own lines (its error, then its hint) hold the hint.
            let block = result.output.components(separatedBy: "× \(check)\n").dropFirst().first?.components(separatedBy: "\n").prefix { !$0.hasPrefix("✔") && !$0.hasPrefix("×") && !$0.isEmpty }
            #expect(block?.contains { $0.hasPrefix("    hint: ") && $0.contains(hint) } == true, "\(result.output)", sourceLocation: sourceLocation)
            #expect(result.output.contains("Status check results are ×"), sourceLocation: sourceLocation)
        }

        @Test("a healthy install passes every check, in text and JSON")
        func healthyInstall() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            _ = try await Self.healthy(api)
            let result = try await Self.check(api, ["--proxy"])
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("×"), "\(result.output)")
            for line in [
                "✔ can query the Kubernetes API", "✔ controller pods are running and ready", "✔ FaultInjection CRD is installed",
                "✔ Gateway API GRPCRoute CRD (v1) is installed", "✔ trust anchors are not expiring within 60 days",
                "✔ issuer certificate is valid, holds its key and is signed by a trust anchor", "✔ the webhook's caBundle verifies the injector's serving certificate",
                "✔ data plane proxies are ready", "Status check results are ✔",
            ] {
                #expect(result.output.contains(line), "\(line)\n\(result.output)")
            }
            let json = try await Self.check(api, ["--proxy", "-o", "json", "-n", "shop"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(report["success"] as? Bool == true)
            #expect((report["categories"] as? [[String: Any]])?.map { $0["categoryName"] as? String } == [
                "kubernetes-api", "kubernetes-version", "swiftlet-existence", "swiftlet-crds", "swiftlet-identity", "swiftlet-webhook", "swiftlet-data-plane",
            ])
        }

        @Test("each failure is a × with a hint and exit status 1")
        func eachFailure() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            let installed = try await Self.healthy(api)

            try await api.delete("CustomResourceDefinition", namespace: "", "grpcroutes.gateway.networking.k8s.io")
            Self.expectFailure(try await Self.check(api), "Gateway API GRPCRoute CRD (v1) is installed", hint: "the Gateway API's CRDs are yours to install")
            try await api.apply([Self.gatewayCRD("grpcroutes", versions: ["v1alpha2"])])
            Self.expectFailure(try await Self.check(api), "Gateway API GRPCRoute CRD (v1) is installed", hint: "the Gateway API's CRDs are yours to install")
            try await api.apply([Self.gatewayCRD("grpcroutes")])

            try await api.apply([Self.controllerPod(ready: false)])
            Self.expectFailure(try await Self.check(api), "controller pods are running and ready", hint: "kubectl -n swiftlet describe pod")
            try await api.apply([Self.controllerPod(ready: true)])

            // Anchors and issuer that expire in 30 days.
            let directory = try E2E.temporaryDirectory()
            _ = try await InstallTests.swiftlet(["identity", "generate", "--out", directory.path, "--days", "30"])
            let expiring = try installObjects(try await InstallTests.swiftlet([
                "install", "-o", "json", "--identity-trust-anchors-file", directory.path + "/ca.crt",
                "--identity-issuer-certificate-file", directory.path + "/issuer.crt", "--identity-issuer-key-file", directory.path + "/issuer.key",
            ]))
            try await api.apply([expiring.object("ConfigMap", "swiftlet-identity-trust-roots")!, expiring.object("Secret", "swiftlet-identity-issuer")!])
            let soon = try await Self.check(api)
            Self.expectFailure(soon, "issuer certificate is not expiring within 60 days", hint: "rotate them")
            #expect(soon.output.contains("× trust anchors are not expiring within 60 days"))
            // An issuer under anchors that did not sign it.
            try await api.apply([installed.object("ConfigMap", "swiftlet-identity-trust-roots")!])
            Self.expectFailure(try await Self.check(api), "issuer certificate is valid, holds its key and is signed by a trust anchor", hint: "rotate them")
            try await api.apply([installed.object("Secret", "swiftlet-identity-issuer")!])

            // The webhook of another install: its caBundle does not verify this install's injector certificate.
            let other = try installObjects(try await InstallTests.swiftlet(["install", "-o", "json"]))
            try await api.apply([other.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")!])
            Self.expectFailure(try await Self.check(api), "the webhook's caBundle verifies the injector's serving certificate", hint: "different installs")
            try await api.apply([installed.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")!])

            try await api.apply([Self.meshedPod(ready: false, version: "0.0.9")])
            #expect(try await Self.check(api).status == 0, "without --proxy the data plane is not looked at")
            let proxies = try await Self.check(api, ["--proxy"])
            Self.expectFailure(proxies, "data plane proxies are ready", hint: "kubectl logs <pod> -c swiftlet-proxy")
            Self.expectFailure(proxies, "data plane proxies are on the control plane's version (\(SwiftletVersion.current))", hint: "restart their workloads")
            #expect(proxies.output.contains("shop/web-5d9c7b-x2x7q (0.0.9)"), "\(proxies.output)")
            Self.expectFailure(try await Self.check(api, ["--proxy", "-n", "nowhere"]), "data plane namespace exists", hint: "kubectl get namespaces")
        }

        @Test("--pre: an existing install and missing permissions fail; a fresh cluster passes")
        func preInstall() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            try await api.apply([Self.gatewayCRD("httproutes"), Self.gatewayCRD("grpcroutes")])
            let fresh = try await Self.check(api, ["--pre"])
            #expect(fresh.status == 0, "\(fresh.output)")
            #expect(fresh.output.contains("✔ can grant the controller what it needs"))
            try await api.request("POST", "/_test/deny", json: "{\"verbs\": [[\"create\", \"apps\", \"deployments\"], [\"create\", \"authentication.k8s.io\", \"tokenreviews\"]]}")
            let denied = try await Self.check(api, ["--pre"])
            Self.expectFailure(denied, "can create namespaced resources", hint: "cluster-admin")
            #expect(denied.output.contains("not allowed: create apps/deployments"), "\(denied.output)")
            #expect(denied.output.contains("× can grant the controller what it needs"), "\(denied.output)")
            try await api.request("POST", "/_test/deny", json: "{\"verbs\": []}")
            _ = try await Self.healthy(api)
            Self.expectFailure(try await Self.check(api, ["--pre"]), "control plane namespace does not already exist", hint: "swiftlet upgrade")
        }

        @Test("an API server older than 1.29 (no native sidecars) fails the version check")
        func tooOld() async throws {
            let api = try await KubeAPIServer.start(version: "1.28.9")
            defer { api.stop() }
            Self.expectFailure(try await Self.check(api, ["--pre"]), "is running the minimum Kubernetes API version (1.29)", hint: "native sidecars")
        }

        @Test("an API server that cannot be reached is one × and exit status 1")
        func unreachable() async throws {
            let api = try await KubeAPIServer.start()
            api.stop()
            _ = try await api.process.waitForExit()
            let result = try await run(ControllerProcess.binary, ["check", "--kubeconfig", api.kubeconfig.path])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("× can query the Kubernetes API"), "\(result.output)")
        }
    }
}
