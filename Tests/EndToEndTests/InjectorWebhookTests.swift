import Foundation
import Kubernetes
import ProxyCore
import Testing

extension TimingSensitiveTests {
    /// The injector webhook as the API server uses it: the test API server sends each pod being created to the webhook
    /// install configures (its selectors and failure policy as printed by `swiftlet install`), and applies the answer.
    @Suite(.serialized, .enabled(if: E2E.available("openssl", "curl") && KubernetesValidate.available))
    struct InjectorWebhookTests {
        /// A test API server with the control plane's configuration applied, and a controller following it with the
        /// injector on; the webhook is dialled by URL (no cluster DNS here) with a certificate for 127.0.0.1.
        struct Cluster {
            let api: KubeAPIServer
            let controller: ControllerProcess
            let webhook: [String: Any]
            let caFile: String

            static func start(failurePolicy: String = "Ignore") async throws -> Cluster {
                let api = try await KubeAPIServer.start()
                do {
                    let directory = try E2E.temporaryDirectory()
                    _ = try await InstallTests.swiftlet(["identity", "generate", "--out", directory.path])
                    let certificate = directory.appendingPathComponent("injector.crt").path
                    let key = directory.appendingPathComponent("injector.key").path
                    let made = try await run("openssl", [
                        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=swiftlet-injector",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
                    ])
                    guard made.status == 0 else { throw HarnessError("openssl: \(made.output)") }
                    let installed = try installObjects(try await InstallTests.swiftlet([
                        "install", "-o", "json", "--registry", "registry.example/mesh", "--set", "proxy.logLevel=debug",
                        "--set", "webhook.failurePolicy=\(failurePolicy)",
                    ]))
                    let values = directory.appendingPathComponent("values.yaml")
                    try (field(installed.object("ConfigMap", "swiftlet-config"), "data", "values.yaml") as? String ?? "").write(to: values, atomically: true, encoding: .utf8)
                    let controller = try await ControllerProcess.start(
                        source: ["--kubeconfig", api.kubeconfig.path],
                        extra: [
                            "--injector-addr", "127.0.0.1:0", "--injector-certificate", certificate, "--injector-key", key, "--values", values.path,
                            "--identity-trust-anchors", directory.appendingPathComponent("ca.crt").path,
                            "--identity-issuer-certificate", directory.appendingPathComponent("issuer.crt").path,
                            "--identity-issuer-key", directory.appendingPathComponent("issuer.key").path,
                        ]
                    )
                    let port = try #require(controller.injectorPort)
                    var webhook = try #require(installed.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector"))
                    var hooks = try #require(webhook["webhooks"] as? [[String: Any]])
                    hooks[0]["clientConfig"] = ["url": "https://127.0.0.1:\(port)/inject", "caBundle": try Data(contentsOf: URL(fileURLWithPath: certificate)).base64EncodedString()]
                    webhook["webhooks"] = hooks
                    try await api.apply([
                        webhook,
                        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop", "annotations": ["swiftlet.io/inject": "enabled"]]],
                        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "default"]],
                        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "kube-system", "annotations": ["swiftlet.io/inject": "enabled"]]],
                        KubeObjects.serviceAccount("web", namespace: "shop"), KubeObjects.serviceAccount("web", namespace: "default"),
                        KubeObjects.serviceAccount("web", namespace: "kube-system"),
                    ])
                    return Cluster(api: api, controller: controller, webhook: webhook, caFile: certificate)
                } catch {
                    api.stop()
                    throw error
                }
            }

            func stop() {
                self.controller.child.stop()
                self.api.stop()
            }

            /// Creates a pod as a controller or kubectl would; returns the HTTP status and the object stored (or Status).
            func create(
                _ name: String, namespace: String, annotations: [String: String] = [:], labels: [String: String] = [:], owner: (kind: String, name: String)? = nil
            ) async throws -> (status: Int, object: [String: Any]) {
                var metadata: [String: Any] = ["name": name, "namespace": namespace, "labels": labels]
                if !annotations.isEmpty { metadata["annotations"] = annotations }
                if let owner {
                    metadata["ownerReferences"] = [["apiVersion": owner.kind == "Job" ? "batch/v1" : "apps/v1", "kind": owner.kind, "name": owner.name, "uid": UUID().uuidString, "controller": true]]
                }
                let pod: [String: Any] = [
                    "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                    "spec": ["serviceAccountName": "web", "containers": [["name": "app", "image": "registry.example/app:1", "ports": [["containerPort": 8080]]]]],
                ]
                let body = String(decoding: try JSONSerialization.data(withJSONObject: pod), as: UTF8.self)
                let (status, text) = try await self.api.request("POST", "/api/v1/namespaces/\(namespace)/pods", json: body)
                return (status, try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:])
            }

            func admissionCalls() async throws -> [[String: Any]] {
                let (_, body) = try await self.api.request("GET", "/_test/admission")
                return (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["calls"] as? [[String: Any]] ?? []
            }
        }

        static func isInjected(_ pod: [String: Any]) -> Bool {
            let names = (field(pod, "spec", "initContainers") as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            return names.starts(with: ["swiftlet-init", "swiftlet-proxy"])
        }

        @Test("pods that ask are injected (their annotation or their namespace's), with their owner's label; others are left alone")
        func injectsWhatAsks() async throws {
            let cluster = try await Cluster.start()
            defer { cluster.stop() }
            let deployment = try await cluster.create("web-5d9c7b-x2x7q", namespace: "shop", labels: ["app": "web", "pod-template-hash": "5d9c7b"], owner: ("ReplicaSet", "web-5d9c7b"))
            #expect(deployment.status == 201)
            #expect(Self.isInjected(deployment.object), "\(deployment.object)")
            let labels = field(deployment.object, "metadata", "labels") as? [String: String] ?? [:]
            #expect(labels["swiftlet.io/proxy-deployment"] == "web")
            #expect(labels["swiftlet.io/workload-ns"] == "shop")
            #expect(labels["swiftlet.io/control-plane-ns"] == "swiftlet")
            #expect(labels["app"] == "web", "the pod's own labels stay")
            let proxy = (field(deployment.object, "spec", "initContainers") as? [[String: Any]] ?? [])[1]
            #expect(proxy["image"] as? String == "registry.example/mesh/swiftlet-proxy:\(SwiftletVersion.current)", "values come from --values")
            #expect((field(deployment.object, "spec", "containers") as? [[String: Any]])?.count == 1, "the app's containers are as they were")

            let job = try await cluster.create("report-abcde", namespace: "default", annotations: ["swiftlet.io/inject": "enabled"], owner: ("Job", "report"))
            #expect(Self.isInjected(job.object))
            #expect((field(job.object, "metadata", "labels") as? [String: String])?["swiftlet.io/proxy-job"] == "report")

            // What the injected pods look like validates strictly, as the API server would store them.
            try await KubernetesValidate.check([deployment.object, job.object].map {
                "---\n" + String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) + "\n"
            }.joined())

            let plain = try await cluster.create("plain", namespace: "default")
            #expect(plain.status == 201 && !Self.isInjected(plain.object), "no annotation anywhere: not meshed")
            let disabled = try await cluster.create("opted-out", namespace: "shop", annotations: ["swiftlet.io/inject": "disabled"])
            #expect(disabled.status == 201 && !Self.isInjected(disabled.object))
            let system = try await cluster.create("dns", namespace: "kube-system", annotations: ["swiftlet.io/inject": "enabled"])
            #expect(system.status == 201 && !Self.isInjected(system.object))
            let badPorts = try await cluster.create("bad-ports", namespace: "shop", annotations: ["config.swiftlet.io/skip-inbound-ports": "http"])
            #expect(badPorts.status == 201 && !Self.isInjected(badPorts.object), "a bad annotation never blocks the pod")

            let calls = try await cluster.admissionCalls()
            // kube-system never reaches the webhook (the namespace selector); every other pod got an answer.
            #expect(calls.count == 5, "\(calls)")
            #expect(calls.allSatisfy { $0["error"] == nil && $0["allowed"] as? Bool == true }, "\(calls)")
            #expect(calls.filter { $0["patched"] as? Bool == true }.count == 2)
            #expect(calls.contains { ($0["warnings"] as? [String])?.first?.contains("config.swiftlet.io/skip-inbound-ports") == true }, "\(calls)")
            // A meshed pod is a destination the controller knows as meshed (its label), as for any other source.
            #expect(try await cluster.controller.metric("controller_kubernetes_watch_events_total") > 0)
        }

        @Test("the webhook's patch on the pods of real-world Deployment, StatefulSet, Job, CronJob and ReplicaSet manifests validates strict")
        func realWorldTemplates() async throws {
            let cluster = try await Cluster.start()
            defer { cluster.stop() }
            var created: [[String: Any]] = []
            for file in ["web.yaml", "db.yaml", "jobs.yaml", "list.json"] {
                let text = try String(contentsOf: TimingSensitiveTests.InjectTests.workloads.appendingPathComponent(file), encoding: .utf8)
                var documents = try DocumentStream(parsing: text).documents.compactMap {
                    try JSONSerialization.jsonObject(with: Data(DocumentStream.json($0).utf8)) as? [String: Any]
                }
                documents = documents.flatMap { ($0["items"] as? [[String: Any]]) ?? [$0] }
                for document in documents {
                    let kind = document["kind"] as? String ?? ""
                    let path: [String]? = switch kind {
                    case "Deployment", "StatefulSet", "ReplicaSet", "Job": ["spec", "template"]
                    case "CronJob": ["spec", "jobTemplate", "spec", "template"]
                    default: nil
                    }
                    guard let path, var template = path.reduce(document as Any?, { ($0 as? [String: Any])?[$1] }) as? [String: Any] else { continue }
                    // The pod a controller makes from the template, in a namespace that asks for injection.
                    var metadata = template["metadata"] as? [String: Any] ?? [:]
                    let name = (document["metadata"] as? [String: Any])?["name"] as? String ?? "pod"
                    metadata["name"] = "\(name)-7d9f8-x2x7q"
                    metadata["namespace"] = "shop"
                    template["metadata"] = metadata
                    template["apiVersion"] = "v1"
                    template["kind"] = "Pod"
                    let body = String(decoding: try JSONSerialization.data(withJSONObject: template), as: UTF8.self)
                    let (status, answer) = try await cluster.api.request("POST", "/api/v1/namespaces/shop/pods", json: body)
                    #expect(status == 201, "\(kind) \(name): \(answer)")
                    let pod = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] ?? [:]
                    #expect(Self.isInjected(pod), "\(kind) \(name) was not injected")
                    created.append(pod)
                }
            }
            #expect(created.count == 5)
            try await KubernetesValidate.check(created.map { "---\n" + String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) + "\n" }.joined())
        }

        @Test("the webhook refuses what is not an AdmissionReview, and bounds what a client can send")
        func refusesBadRequests() async throws {
            let cluster = try await Cluster.start()
            defer { cluster.stop() }
            let url = "https://127.0.0.1:\(cluster.controller.injectorPort!)"
            func curl(_ arguments: [String]) async throws -> String {
                try await run("curl", ["-sS", "--cacert", cluster.caFile, "-o", "/dev/null", "-w", "%{http_code}"] + arguments).output
            }
            #expect(try await curl(["\(url)/inject"]) == "405")
            #expect(try await curl(["\(url)/other"]) == "404")
            #expect(try await curl(["-X", "POST", "--data-binary", "not json", "\(url)/inject"]) == "400")
            #expect(try await curl(["-X", "POST", "--data-binary", String(repeating: "[", count: 100_000), "\(url)/inject"]) == "400")
            let large = FileManager.default.temporaryDirectory.appendingPathComponent("large-\(UUID().uuidString)")
            try Data(repeating: UInt8(ascii: " "), count: 5 << 20).write(to: large)
            defer { try? FileManager.default.removeItem(at: large) }
            #expect(try await curl(["-X", "POST", "--data-binary", "@\(large.path)", "\(url)/inject"]) == "413")
            // Still serving after all that.
            let pod = try await cluster.create("after", namespace: "shop")
            #expect(Self.isInjected(pod.object))
        }

        @Test("with the controller down, failurePolicy Ignore lets the pod in unmeshed and Fail refuses it")
        func failurePolicy() async throws {
            let cluster = try await Cluster.start()
            defer { cluster.stop() }
            cluster.controller.child.signal(SIGKILL)
            _ = try await cluster.controller.child.waitForExit()
            let ignored = try await cluster.create("while-down", namespace: "shop")
            #expect(ignored.status == 201 && !Self.isInjected(ignored.object))
            var webhook = cluster.webhook
            var hooks = webhook["webhooks"] as? [[String: Any]] ?? []
            hooks[0]["failurePolicy"] = "Fail"
            webhook["webhooks"] = hooks
            try await cluster.api.apply([webhook])
            let refused = try await cluster.create("while-down-ha", namespace: "shop")
            #expect(refused.status == 500)
            #expect((refused.object["message"] as? String)?.contains("failed calling webhook \"proxy-injector.swiftlet.io\"") == true, "\(refused.object)")
        }
    }
}
