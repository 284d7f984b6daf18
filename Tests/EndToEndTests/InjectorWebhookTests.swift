import Foundation
import Kubernetes
import MeshModel
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
                    let made = try await run(
                        "openssl",
                        [
                            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                            "/CN=swiftlet-injector",
                            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
                        ])
                    guard made.status == 0 else { throw HarnessError("openssl: \(made.output)") }
                    let installed = try installObjects(
                        try await InstallTests.swiftlet([
                            "install", "-o", "json", "--registry", "registry.example/mesh", "--set", "proxy.logLevel=debug",
                            "--set", "webhook.failurePolicy=\(failurePolicy)",
                        ]))
                    let values = directory.appendingPathComponent("values.yaml")
                    try (field(installed.object("ConfigMap", "swiftlet-config"), "data", "values.yaml") as? String ?? "").write(
                        to: values, atomically: true, encoding: .utf8)
                    let controller = try await ControllerProcess.start(
                        source: ["--kubeconfig", api.kubeconfig.path],
                        extra: [
                            "--injector-addr", "127.0.0.1:0", "--injector-certificate", certificate, "--injector-key", key, "--values",
                            values.path,
                            "--identity-trust-anchors", directory.appendingPathComponent("ca.crt").path,
                            "--identity-issuer-certificate", directory.appendingPathComponent("issuer.crt").path,
                            "--identity-issuer-key", directory.appendingPathComponent("issuer.key").path,
                        ]
                    )
                    let port = try #require(controller.injectorPort)
                    var webhook = try #require(installed.object("MutatingWebhookConfiguration", "swiftlet-proxy-injector"))
                    var hooks = try #require(webhook["webhooks"] as? [[String: Any]])
                    let bundle = try Data(contentsOf: URL(fileURLWithPath: certificate)).base64EncodedString()
                    for index in hooks.indices {
                        hooks[index]["clientConfig"] = ["url": "https://127.0.0.1:\(port)/inject", "caBundle": bundle]
                    }
                    webhook["webhooks"] = hooks
                    // The install as a cluster holds it (so `swiftlet check` finds it), its webhook dialled by URL.
                    try await api.apply(
                        installed.filter { $0["kind"] as? String != "MutatingWebhookConfiguration" } + [
                            webhook,
                            KubeObjects.namespace("shop", labels: ["swiftlet.io/inject": "enabled"]),
                            KubeObjects.namespace("default"),
                            KubeObjects.namespace("kube-system", labels: ["swiftlet.io/inject": "enabled"]),
                            // Opted in the way Linkerd's users write it: an annotation, which no webhook selector can see.
                            KubeObjects.namespace("annotated", annotations: ["swiftlet.io/inject": "enabled"]),
                            KubeObjects.namespace(
                                "strict", labels: ["swiftlet.io/inject": "enabled", "pod-security.kubernetes.io/enforce": "restricted"]),
                            KubeObjects.namespace("baseline", labels: ["pod-security.kubernetes.io/enforce": "baseline"]),
                        ]
                            + ["shop", "default", "kube-system", "annotated", "strict", "baseline"].map {
                                KubeObjects.serviceAccount("web", namespace: $0)
                            })
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
            /// `restricted`: written to pass the restricted Pod Security level (as a namespace enforcing it requires).
            func create(
                _ name: String, namespace: String, annotations: [String: String] = [:], labels: [String: String] = [:],
                owner: (kind: String, name: String)? = nil,
                restricted: Bool = false
            ) async throws -> (status: Int, object: [String: Any]) {
                var metadata: [String: Any] = ["name": name, "namespace": namespace, "labels": labels]
                if !annotations.isEmpty { metadata["annotations"] = annotations }
                if let owner {
                    metadata["ownerReferences"] = [
                        [
                            "apiVersion": owner.kind == "Job" ? "batch/v1" : "apps/v1", "kind": owner.kind, "name": owner.name,
                            "uid": UUID().uuidString, "controller": true,
                        ]
                    ]
                }
                var container: [String: Any] = ["name": "app", "image": "registry.example/app:1", "ports": [["containerPort": 8080]]]
                var spec: [String: Any] = ["serviceAccountName": "web"]
                if restricted {
                    container["securityContext"] = ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]]
                    spec["securityContext"] = ["runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": ["type": "RuntimeDefault"]]
                }
                spec["containers"] = [container]
                let pod: [String: Any] = ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
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
            let deployment = try await cluster.create(
                "web-5d9c7b-x2x7q", namespace: "shop", labels: ["app": "web", "pod-template-hash": "5d9c7b"],
                owner: ("ReplicaSet", "web-5d9c7b"))
            #expect(deployment.status == 201)
            #expect(Self.isInjected(deployment.object), "\(deployment.object)")
            let labels = field(deployment.object, "metadata", "labels") as? [String: String] ?? [:]
            #expect(labels["swiftlet.io/proxy-deployment"] == "web")
            #expect(labels["swiftlet.io/workload-ns"] == "shop")
            #expect(labels["swiftlet.io/control-plane-ns"] == "swiftlet")
            #expect(labels["app"] == "web", "the pod's own labels stay")
            let proxy = (field(deployment.object, "spec", "initContainers") as? [[String: Any]] ?? [])[1]
            #expect(
                proxy["image"] as? String == "registry.example/mesh/swiftlet-proxy:\(SwiftletVersion.current)", "values come from --values")
            #expect(
                (field(deployment.object, "spec", "containers") as? [[String: Any]])?.count == 1, "the app's containers are as they were")

            let job = try await cluster.create(
                "report-abcde", namespace: "default", annotations: ["swiftlet.io/inject": "enabled"], owner: ("Job", "report"))
            #expect(Self.isInjected(job.object))
            #expect((field(job.object, "metadata", "labels") as? [String: String])?["swiftlet.io/proxy-job"] == "report")

            // What the injected pods look like validates strictly, as the API server would store them.
            try await KubernetesValidate.check(
                [deployment.object, job.object].map {
                    "---\n" + String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) + "\n"
                }.joined())

            let plain = try await cluster.create("plain", namespace: "default")
            #expect(plain.status == 201 && !Self.isInjected(plain.object), "no annotation anywhere: not meshed")
            let disabled = try await cluster.create("opted-out", namespace: "shop", annotations: ["swiftlet.io/inject": "disabled"])
            #expect(disabled.status == 201 && !Self.isInjected(disabled.object))
            let system = try await cluster.create("dns", namespace: "kube-system", annotations: ["swiftlet.io/inject": "enabled"])
            #expect(system.status == 201 && !Self.isInjected(system.object))
            let badPorts = try await cluster.create(
                "bad-ports", namespace: "shop", annotations: ["config.swiftlet.io/skip-inbound-ports": "http"])
            #expect(badPorts.status == 201 && !Self.isInjected(badPorts.object), "a bad annotation never blocks the pod")

            let calls = try await cluster.admissionCalls()
            // Only pods that opt in reach the webhook (its selectors and match conditions): not kube-system's, not
            // a pod without an annotation in a namespace without the label, not a pod that says `disabled`.
            #expect(calls.count == 3, "\(calls)")
            #expect(calls.allSatisfy { $0["error"] == nil && $0["allowed"] as? Bool == true }, "\(calls)")
            #expect(calls.filter { $0["patched"] as? Bool == true }.count == 2)
            #expect(
                calls.contains { ($0["warnings"] as? [String])?.first?.contains("config.swiftlet.io/skip-inbound-ports") == true },
                "\(calls)")
            // A meshed pod is a destination the controller knows as meshed (its label), as for any other source.
            #expect(try await cluster.controller.metric("controller_kubernetes_watch_events_total") > 0)
        }

        @Test(
            "the webhook's patch on the pods of real-world Deployment, StatefulSet, Job, CronJob and ReplicaSet manifests validates strict")
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
                    let path: [String]? =
                        switch kind {
                        case "Deployment", "StatefulSet", "ReplicaSet", "Job": ["spec", "template"]
                        case "CronJob": ["spec", "jobTemplate", "spec", "template"]
                        default: nil
                        }
                    guard let path, var template = path.reduce(document as Any?, { ($0 as? [String: Any])?[$1] }) as? [String: Any] else {
                        continue
                    }
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
            try await KubernetesValidate.check(
                created.map { "---\n" + String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) + "\n" }.joined())
        }

        @Test("an opt-in that cannot be honoured is a warning, never a blocked pod: Pod Security, an unknown value, an annotated namespace")
        func warnsWhatItCannotHonour() async throws {
            let cluster = try await Cluster.start()
            defer { cluster.stop() }
            func warnings(_ name: String) async throws -> [String] {
                let calls = try await cluster.admissionCalls()
                let call = calls.last { (field($0, "request", "object", "metadata", "name") as? String) == name }
                return call?["warnings"] as? [String] ?? []
            }
            // A namespace enforcing the restricted Pod Security level refuses the init container's NET_ADMIN and
            // NET_RAW: the pod is created unmeshed (not Forbidden), and told why.
            let strict = try await cluster.create("strict-pod", namespace: "strict", restricted: true)
            #expect(strict.status == 201 && !Self.isInjected(strict.object), "\(strict.object)")
            #expect(
                try await warnings("strict-pod").contains {
                    $0.contains("enforces Pod Security \"restricted\"") && $0.contains("NET_ADMIN")
                })
            let baseline = try await cluster.create("baseline-pod", namespace: "baseline", annotations: ["swiftlet.io/inject": "enabled"])
            #expect(baseline.status == 201 && !Self.isInjected(baseline.object), "\(baseline.object)")
            #expect(try await warnings("baseline-pod").contains { $0.contains("enforces Pod Security \"baseline\"") })

            // An unexpected value is ignored with a warning: the namespace's opt-in decides.
            let meant = try await cluster.create("meant-true", namespace: "shop", annotations: ["swiftlet.io/inject": "true"])
            #expect(Self.isInjected(meant.object), "in an opted-in namespace it is meshed")
            #expect(try await warnings("meant-true").contains { $0.contains("\"true\" is not \"enabled\" or \"disabled\"") })
            let elsewhere = try await cluster.create(
                "meant-true-elsewhere", namespace: "default", annotations: ["swiftlet.io/inject": "yes"])
            #expect(elsewhere.status == 201 && !Self.isInjected(elsewhere.object))
            #expect(try await warnings("meant-true-elsewhere").contains { $0.contains("\"yes\" is not") })

            // A namespace opted in by annotation only: no webhook selector sees it, so its pods are not meshed
            // (`swiftlet check` says so and how to fix it).
            let annotated = try await cluster.create("annotated-pod", namespace: "annotated")
            #expect(annotated.status == 201 && !Self.isInjected(annotated.object))
            let result = try await run(ControllerProcess.binary, ["check", "--kubeconfig", cluster.api.kubeconfig.path])
            #expect(result.output.contains("‼ namespaces opted in by label"), "\(result.output)")
            #expect(result.output.contains("annotated: annotated swiftlet.io/inject=enabled but not labelled"), "\(result.output)")
            #expect(result.output.contains("kubectl label namespace annotated swiftlet.io/inject=enabled"), "\(result.output)")
            #expect(result.output.contains("strict: enforces Pod Security \"restricted\""), "\(result.output)")
            let proxies = try await run(ControllerProcess.binary, ["check", "--kubeconfig", cluster.api.kubeconfig.path, "--proxy"])
            #expect(proxies.output.contains("‼ pods' swiftlet.io/inject annotations are understood"), "\(proxies.output)")
            #expect(proxies.output.contains("shop/meant-true (\"true\")"), "\(proxies.output)")
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
            for index in hooks.indices { hooks[index]["failurePolicy"] = "Fail" }
            webhook["webhooks"] = hooks
            try await cluster.api.apply([webhook])
            // Failing closed blocks only the pods that opted in: their namespace's label, or their own annotation.
            let refused = try await cluster.create("while-down-ha", namespace: "shop")
            #expect(refused.status == 500)
            #expect(
                (refused.object["message"] as? String)?.contains("failed calling webhook \"namespace.proxy-injector.swiftlet.io\"") == true,
                "\(refused.object)")
            let asked = try await cluster.create("asked-while-down", namespace: "default", annotations: ["swiftlet.io/inject": "enabled"])
            #expect(asked.status == 500)
            #expect(
                (asked.object["message"] as? String)?.contains("failed calling webhook \"pod.proxy-injector.swiftlet.io\"") == true,
                "\(asked.object)")
            // Everyone else's pods are created as if there were no mesh.
            for (name, namespace, annotations) in [
                ("bystander", "default", [:]), ("opted-out", "shop", ["swiftlet.io/inject": "disabled"]),
                ("other", "baseline", ["app": "x"]),
            ] {
                let pod = try await cluster.create(name, namespace: namespace, annotations: annotations)
                #expect(pod.status == 201, "\(namespace)/\(name): \(pod.object)")
            }
        }
    }
}
