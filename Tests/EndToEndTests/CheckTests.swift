import Foundation
import MeshModel
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
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": ["name": "\(plural).gateway.networking.k8s.io"],
                "spec": [
                    "group": "gateway.networking.k8s.io", "scope": "Namespaced",
                    "names": ["plural": plural, "kind": plural == "httproutes" ? "HTTPRoute" : "GRPCRoute"],
                    "versions": versions.map { ["name": $0, "served": true, "storage": $0 == versions.last] },
                ],
            ]
        }

        /// The controller's pod as its ReplicaSet makes it from the install's Deployment (so it must pass the
        /// namespace's restricted Pod Security level, as on a cluster).
        static func controllerPod(_ installed: [[String: Any]], ready: Bool) throws -> [String: Any] {
            let template = try #require(
                field(try #require(installed.object("Deployment", "swiftlet-controller")), "spec", "template") as? [String: Any])
            var metadata = template["metadata"] as? [String: Any] ?? [:]
            metadata["name"] = "swiftlet-controller-7c9d8-abcde"
            metadata["namespace"] = "swiftlet"
            return [
                "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"] ?? [:],
                "status": ["phase": ready ? "Running" : "Pending", "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]],
            ]
        }

        static func meshedPod(ready: Bool, version: String = SwiftletVersion.current, name: String = "web-5d9c7b-x2x7q") -> [String: Any] {
            [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": [
                    "name": name, "namespace": "shop", "labels": ["app": "web", "swiftlet.io/control-plane-ns": "swiftlet"],
                    "annotations": ["swiftlet.io/proxy-version": version],
                ],
                "spec": ["containers": [["name": "web", "image": "registry.example/web:1"]]],
                "status": [
                    "phase": "Running",
                    "initContainerStatuses": [["name": "swiftlet-init", "ready": false], ["name": "swiftlet-proxy", "ready": ready]],
                ],
            ]
        }

        /// A cluster with the control plane installed and running, and one meshed pod (the test API server has the
        /// Gateway API's v1.2.1 CRDs of the channel it was started with).
        static func healthy(_ api: KubeAPIServer) async throws -> [[String: Any]] {
            let installed = try installObjects(try await InstallTests.swiftlet(["install", "-o", "json"]))
            try await api.apply(
                installed + [
                    try Self.controllerPod(installed, ready: true),
                    ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]], Self.meshedPod(ready: true),
                ])
            return installed
        }

        static func expectFailure(
            _ result: (status: Int32, output: String), _ check: String, hint: String, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(result.status == 1, "\(result.output)", sourceLocation: sourceLocation)
            #expect(result.output.contains("× \(check)"), "\(result.output)", sourceLocation: sourceLocation)
            // The check's own lines (its error, then its hint) hold the hint.
            let block = result.output.components(separatedBy: "× \(check)\n").dropFirst().first?.components(separatedBy: "\n").prefix {
                !$0.hasPrefix("✔") && !$0.hasPrefix("×") && !$0.isEmpty
            }
            #expect(
                block?.contains { $0.hasPrefix("    hint: ") && $0.contains(hint) } == true, "\(result.output)",
                sourceLocation: sourceLocation)
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
                "✔ issuer certificate is valid, holds its key and is signed by a trust anchor",
                "✔ the webhook's caBundle verifies the injector's serving certificate",
                "✔ data plane proxies are ready", "Status check results are ✔", "✔ Gateway API CRDs: v1.2.1, standard channel",
                "note: on this channel retries are set by the retry.swiftlet.io annotations",
            ] {
                #expect(result.output.contains(line), "\(line)\n\(result.output)")
            }
            let json = try await Self.check(api, ["--proxy", "-o", "json", "-n", "shop"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(report["success"] as? Bool == true)
            #expect(
                (report["categories"] as? [[String: Any]])?.map { $0["categoryName"] as? String } == [
                    "kubernetes-api", "kubernetes-version", "swiftlet-existence", "swiftlet-crds", "swiftlet-identity", "swiftlet-webhook",
                    "swiftlet-injection",
                    "swiftlet-data-plane",
                ])
        }

        @Test("each failure is a × with a hint and exit status 1; what the controller runs without is a ‼")
        func eachFailure() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            let installed = try await Self.healthy(api)

            // Without the Gateway API's GRPCRoute (or without its v1) the controller runs, with no gRPC routes.
            try await api.delete("CustomResourceDefinition", namespace: "", "grpcroutes.gateway.networking.k8s.io")
            let noRoutes = try await Self.check(api)
            #expect(noRoutes.status == 0, "\(noRoutes.output)")
            #expect(
                noRoutes.output.contains(
                    "‼ Gateway API GRPCRoute CRD (v1) is installed\n    grpcroutes.gateway.networking.k8s.io is not installed; the "
                        + "controller runs without it"
                ), "\(noRoutes.output)")
            try await api.apply([Self.gatewayCRD("grpcroutes", versions: ["v1alpha2"])])
            #expect(try await Self.check(api).output.contains("does not serve v1 (it serves v1alpha2)"))
            try await api.apply([Self.gatewayCRD("grpcroutes")])
            try await api.delete("CustomResourceDefinition", namespace: "", "faultinjections.policy.swiftlet.io")
            Self.expectFailure(try await Self.check(api), "FaultInjection CRD is installed", hint: "swiftlet upgrade")
            try await api.apply([try #require(installed.object("CustomResourceDefinition", "faultinjections.policy.swiftlet.io"))])

            try await api.apply([try Self.controllerPod(installed, ready: false)])
            Self.expectFailure(try await Self.check(api), "controller pods are running and ready", hint: "kubectl -n swiftlet describe pod")
            try await api.apply([try Self.controllerPod(installed, ready: true)])

            // Anchors and issuer that expire in 30 days.
            let directory = try E2E.temporaryDirectory()
            _ = try await InstallTests.swiftlet(["identity", "generate", "--out", directory.path, "--days", "30"])
            let expiring = try installObjects(
                try await InstallTests.swiftlet([
                    "install", "-o", "json", "--identity-trust-anchors-file", directory.path + "/ca.crt",
                    "--identity-issuer-certificate-file", directory.path + "/issuer.crt", "--identity-issuer-key-file",
                    directory.path + "/issuer.key",
                ]))
            try await api.apply([
                expiring.object("ConfigMap", "swiftlet-identity-trust-roots")!, expiring.object("Secret", "swiftlet-identity-issuer")!,
            ])
            let soon = try await Self.check(api)
            Self.expectFailure(soon, "issuer certificate is not expiring within 60 days", hint: "rotate them")
            #expect(soon.output.contains("× trust anchors are not expiring within 60 days"))
            // An issuer under anchors that did not sign it.
            try await api.apply([installed.object("ConfigMap", "swiftlet-identity-trust-roots")!])
            Self.expectFailure(
                try await Self.check(api), "issuer certificate is valid, holds its key and is signed by a trust anchor", hint: "rotate them"
            )
            try await api.apply([installed.object("Secret", "swiftlet-identity-issuer")!])

            // The webhook of another install: its caBundle does not verify this install's injector certificate.
            let other = try installObjects(try await InstallTests.swiftlet(["install", "-o", "json"]))
            try await api.apply([other.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")!])
            Self.expectFailure(
                try await Self.check(api), "the webhook's caBundle verifies the injector's serving certificate", hint: "different installs")
            try await api.apply([installed.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector")!])

            try await api.apply([Self.meshedPod(ready: false, version: "0.0.9")])
            #expect(try await Self.check(api).status == 0, "without --proxy the data plane is not looked at")
            let proxies = try await Self.check(api, ["--proxy"])
            Self.expectFailure(proxies, "data plane proxies are ready", hint: "kubectl logs <pod> -c swiftlet-proxy")
            Self.expectFailure(
                proxies, "data plane proxies are on the control plane's version (\(SwiftletVersion.current))",
                hint: "restart their workloads")
            #expect(proxies.output.contains("shop/web-5d9c7b-x2x7q (0.0.9)"), "\(proxies.output)")
            Self.expectFailure(
                try await Self.check(api, ["--proxy", "-n", "nowhere"]), "data plane namespace exists", hint: "kubectl get namespaces")
        }

        /// A user who may do much of what install does, but not create Deployments, review tokens, or escalate or bind
        /// roles (so cannot grant the controller what it does not hold).
        static func installerRole(complete: Bool) -> [[String: Any]] {
            let all = ["get", "list", "watch", "create", "update", "patch", "delete"]
            var rules: [[String: Any]] = [
                [
                    "apiGroups": [""], "resources": ["namespaces", "serviceaccounts", "configmaps", "secrets", "services", "pods"],
                    "verbs": all,
                ],
                [
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["clusterroles", "clusterrolebindings", "roles", "rolebindings"], "verbs": all,
                ],
                ["apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": all],
                ["apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"], "verbs": all],
                ["apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": all],
                ["apiGroups": ["apiregistration.k8s.io"], "resources": ["apiservices"], "verbs": all],
                [
                    "apiGroups": ["discovery.k8s.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io", "policy.swiftlet.io"],
                    "resources": ["*"],
                    "verbs": ["get", "list", "watch"],
                ],
                ["apiGroups": ["apps"], "resources": ["deployments"], "verbs": complete ? all : ["get", "list", "watch"]],
            ]
            if complete {
                rules += [
                    ["apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]],
                    ["apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]],
                    ["apiGroups": ["tap.swiftlet.io"], "resources": ["*"], "verbs": ["watch"]],
                ]
            }
            return [
                ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": "installer"], "rules": rules],
                [
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "installers"],
                    "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "installer"],
                    "subjects": [["apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "installers"]],
                ],
            ]
        }

        @Test("--pre reviews every permission install needs (what it creates and what its roles grant), and a green --pre installs")
        func preInstall() async throws {
            let api = try await KubeAPIServer.start(gatewayAPI: "none")
            defer { api.stop() }
            // The Gateway API's CRDs are not needed to install: their absence is a warning.
            let bare = try await Self.check(api, ["--pre"])
            #expect(bare.status == 0, "\(bare.output)")
            #expect(bare.output.contains("‼ Gateway API HTTPRoute CRD (v1) is installed"), "\(bare.output)")
            try await api.apply([Self.gatewayCRD("httproutes"), Self.gatewayCRD("grpcroutes")])
            let fresh = try await Self.check(api, ["--pre"])
            #expect(fresh.status == 0, "\(fresh.output)")
            #expect(fresh.output.contains("✔ can grant the controller what it needs"))
            #expect(fresh.output.contains("✔ Gateway API CRDs: an unknown version, an unknown channel"), "\(fresh.output)")

            try await api.registerUsers(["jane-token": ("jane", ["installers"])])
            try await api.apply(Self.installerRole(complete: false))
            let jane = try api.kubeconfig(token: "jane-token")
            let denied = try await run(ControllerProcess.binary, ["check", "--kubeconfig", jane.path, "--pre"])
            Self.expectFailure(denied, "can create namespaced resources", hint: "cluster-admin")
            #expect(denied.output.contains("not allowed: create apps/deployments in swiftlet"), "\(denied.output)")
            Self.expectFailure(denied, "can grant the controller what it needs", hint: "cluster-admin")
            #expect(
                denied.output.contains("create authentication.k8s.io/tokenreviews (ClusterRole swiftlet-controller)"), "\(denied.output)")
            #expect(
                denied.output.contains("watch tap.swiftlet.io/* (ClusterRole swiftlet-tap-admin)"),
                "who may tap is granted too: \(denied.output)")
            #expect(!denied.output.contains("list pods"), "Jane holds what she may read: \(denied.output)")

            // Applied as Jane, the install fails exactly where check said: the ClusterRoles (RBAC's escalation check)
            // and the Deployment.
            let documents = try installObjects(try await InstallTests.swiftlet(["install", "-o", "json", "--ha"]))
            var refused: [String] = []
            for document in documents {
                let (status, _) = try await api.create(document, token: "jane-token")
                if status >= 300 { refused.append("\(document["kind"] ?? "") \(status)") }
            }
            #expect(refused == ["ClusterRole 403", "ClusterRoleBinding 404", "ClusterRole 403", "Deployment 403"], "\(refused)")

            // Given what check said was missing, check passes and every document of the install applies as Jane.
            try await api.apply(Self.installerRole(complete: true))
            for document in documents.reversed() {
                let kind = document["kind"] as? String ?? ""
                let name = field(document, "metadata", "name") as? String ?? ""
                if kind == "Namespace" { continue }
                try? await api.delete(kind, namespace: field(document, "metadata", "namespace") as? String ?? "", name)
            }
            try await api.delete("Namespace", namespace: "", "swiftlet")
            var passed = try await run(ControllerProcess.binary, ["check", "--kubeconfig", jane.path, "--pre"])
            // The namespace goes once its contents have (the namespace controller).
            for _ in 0..<50 where passed.status != 0 {
                try await Task.sleep(for: .milliseconds(100))
                passed = try await run(ControllerProcess.binary, ["check", "--kubeconfig", jane.path, "--pre"])
            }
            #expect(passed.status == 0, "\(passed.output)")
            for document in documents {
                let (status, body) = try await api.create(document, token: "jane-token")
                #expect(status == 201, "\(document["kind"] ?? ""): \(body)")
            }
            Self.expectFailure(
                try await Self.check(api, ["--pre"]), "control plane namespace does not already exist", hint: "swiftlet upgrade")
        }

        @Test("the experimental channel's route features are said to apply")
        func experimentalChannel() async throws {
            let api = try await KubeAPIServer.start(gatewayAPI: "experimental")
            defer { api.stop() }
            _ = try await Self.healthy(api)
            let result = try await Self.check(api)
            #expect(result.status == 0, "\(result.output)")
            #expect(
                result.output.contains(
                    "✔ Gateway API CRDs: v1.2.1, experimental channel\n    note: route rules' retry and XBackendTrafficPolicy retry "
                        + "budgets apply"
                ), "\(result.output)")
        }

        @Test("on a cluster without Swiftlet, check stops at the missing namespace")
        func nothingInstalled() async throws {
            let api = try await KubeAPIServer.start()
            defer { api.stop() }
            let result = try await Self.check(api)
            Self.expectFailure(result, "'swiftlet' namespace exists", hint: "swiftlet install | kubectl apply -f -")
            #expect(result.output.components(separatedBy: "\n× ").count == 2, "one × only: \(result.output)")
            #expect(result.output.contains("there is no namespace swiftlet: Swiftlet is not installed"), "\(result.output)")
            for absent in ["rotate", "swiftlet-identity", "swiftlet-webhook", "404"] {
                #expect(!result.output.contains(absent), "\(absent): \(result.output)")
            }
        }

        @Test("an API server older than 1.29 (no native sidecars) fails the version check")
        func tooOld() async throws {
            let api = try await KubeAPIServer.start(version: "1.28.9", gatewayAPI: "none")
            defer { api.stop() }
            Self.expectFailure(
                try await Self.check(api, ["--pre"]), "is running the minimum Kubernetes API version (1.29)", hint: "native sidecars")
        }

        @Test("an API server that cannot be reached is one × and exit status 1")
        func unreachable() async throws {
            let api = try await KubeAPIServer.start(gatewayAPI: "none")
            api.stop()
            _ = try await api.process.waitForExit()
            let result = try await run(ControllerProcess.binary, ["check", "--kubeconfig", api.kubeconfig.path])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("× can query the Kubernetes API"), "\(result.output)")
        }
    }
}
