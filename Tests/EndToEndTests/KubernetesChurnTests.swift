import Foundation
import Testing

extension TimingSensitiveTests.NetworkNamespaceTests {
    /// The mesh on a (test) Kubernetes API: the API server and the controller in pod a (on ports its proxy-init
    /// leaves alone, as a control plane's are), meshed proxies in a and b certified through TokenReview, and a
    /// client in a dialling Service `web`'s cluster IP. While it runs, 1,000 pods (with their Services and
    /// EndpointSlices) come and go through the API, `web`'s slice is rewritten, the watches are cut once and the
    /// history compacted once: not one request fails, a cut watch resumes without a list, and the compaction costs
    /// exactly one relist per kind.
    @Test func proxiesKeepServingWhileAThousandPodsChurnThroughTheAPI() async throws {
        let (a, b, cleanup) = try await self.makePods(ignoringInboundPortsOfA: [8086, 8087])
        do {
            let ip = E2E.which("ip")!
            // Cluster IPs are routed out of the pod (iptables captures the connection before it leaves).
            try await a.must(["ip", "route", "add", "10.96.0.0/16", "via", b.address])
            let api = try await KubeAPIServer.start(prefix: [ip] + a.exec([]))
            defer { api.stop() }
            let directory = try E2E.temporaryDirectory()
            let ca = directory.appendingPathComponent("ca")
            _ = try await run(ControllerProcess.binary, ["identity", "generate", "--out", ca.path])
            try await api.apply([KubeObjects.namespace("demo"), KubeObjects.namespace("churn")])
            try await api.registerTokens([
                "token-client": ("demo/client", ["identity.swiftlet.io"]), "token-server": ("demo/server", ["identity.swiftlet.io"]),
            ])
            try await api.apply([
                KubeObjects.service("web", namespace: "demo", selector: ["app": "web"], port: 80, clusterIP: "10.96.0.10"),
                KubeObjects.pod(
                    "server-0", namespace: "demo", ip: b.address, labels: ["app": "web"], serviceAccount: "server",
                    replicaSet: ("web-5d9c7b", "5d9c7b")),
                KubeObjects.pod("client-0", namespace: "demo", ip: a.address, labels: ["app": "client"], serviceAccount: "client"),
                Self.webSlice(b.address, generation: 0),
            ])
            let controller = try ChildProcess(
                ip,
                a.exec([
                    ControllerProcess.binary, "controller", "--kubeconfig", api.kubeconfig.path, "--destination-addr", "0.0.0.0:8086",
                    "--identity-addr", "0.0.0.0:8087", "--admin-addr", "127.0.0.1:9990",
                    "--identity-trust-anchors", ca.appendingPathComponent("ca.crt").path,
                    "--identity-issuer-certificate", ca.appendingPathComponent("issuer.crt").path,
                    "--identity-issuer-key", ca.appendingPathComponent("issuer.key").path,
                ]),
                name: "controller-in-a"
            )
            controller.stopSignal = SIGTERM
            _ = try await controller.waitForLine(containing: "swiftlet controller ready")
            let anchors = try String(contentsOf: ca.appendingPathComponent("ca.crt"), encoding: .utf8)
            func meshed(_ pod: Pod, _ serviceAccount: String, controller host: String) async throws -> ProxyProcess {
                let tokenFile = directory.appendingPathComponent("token-\(serviceAccount)")
                try "token-\(serviceAccount)".write(to: tokenFile, atomically: true, encoding: .utf8)
                let proxy = try await pod.startProxy([
                    "SWIFTLET_PROXY_DESTINATION_ADDR": "\(host):8086", "SWIFTLET_PROXY_IDENTITY_ADDR": "\(host):8087",
                    "SWIFTLET_PROXY_NAMESPACE": "demo",
                    "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": "\(serviceAccount).demo.serviceaccount.identity.swiftlet.cluster.local",
                    "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": anchors, "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": tokenFile.path,
                ])
                _ = try await proxy.child.waitForLine(containing: "certified")
                return proxy
            }
            let proxyA = try await meshed(a, "client", controller: "127.0.0.1")
            let proxyB = try await meshed(b, "server", controller: a.address)
            let server = try ChildProcess(
                ip, b.exec([E2E.python, "-u", E2E.fixtures.appendingPathComponent("upstream.py").path, "8080", "0.0.0.0"]),
                name: "server-in-b")
            _ = try await server.waitForLine(containing: "LISTENING")

            let load = try LoadProcess(target: "10.96.0.10:80", authority: "web.demo.svc.cluster.local", prefix: [ip] + a.exec([]))
            _ = try await load.child.waitForLine(
                where: { ($0.hasPrefix("STATS ") && LoadProcess.Stats($0).ok >= 20) }, describedAs: "20 answers")
            let before = try await api.stats()

            // 1,000 pods in ten waves of 100 (with ten Services and their slices), then deleted wave by wave.
            for wave in 0..<10 {
                var objects: [[String: Any]] = []
                for service in 0..<10 {
                    let name = "churn-\(wave)-\(service)"
                    objects.append(KubeObjects.serviceAccount(name, namespace: "churn"))
                    var endpoints: [(ip: String, pod: String?, ready: Bool)] = []
                    for index in 0..<10 {
                        let address = "10.200.\(wave * 10 + service).\(index + 1)"
                        objects.append(
                            KubeObjects.pod(
                                "\(name)-\(index)", namespace: "churn", ip: address, labels: ["app": name], serviceAccount: name))
                        endpoints.append((address, "\(name)-\(index)", true))
                    }
                    objects.append(
                        KubeObjects.service(
                            name, namespace: "churn", selector: ["app": name], clusterIP: "10.96.\(100 + wave).\(service + 1)"))
                    objects.append(KubeObjects.endpointSlice("\(name)-abcde", namespace: "churn", service: name, endpoints: endpoints))
                }
                objects.append(Self.webSlice(b.address, generation: wave + 1))
                try await api.apply(objects)
                if wave == 4 { try await api.cutWatches() }
            }
            try await api.restart()
            for wave in 0..<10 {
                var deletions: [(kind: String, name: String)] = []
                for service in 0..<10 {
                    let name = "churn-\(wave)-\(service)"
                    deletions += (0..<10).map { ("Pod", "\(name)-\($0)") } + [("Service", name), ("EndpointSlice", "\(name)-abcde")]
                }
                try await api.delete(deletions, namespace: "churn")
            }
            // And it goes on serving after the churn.
            let atEnd = load.child.text.split(separator: "\n").last { $0.hasPrefix("STATS ") }.map { LoadProcess.Stats($0).ok } ?? 0
            _ = try await load.child.waitForLine(
                where: { $0.hasPrefix("STATS ") && LoadProcess.Stats($0).ok >= atEnd + 50 }, describedAs: "50 more answers")
            let stats = try await load.finish()
            #expect(stats.failed == 0, "failed requests: \(load.failures.prefix(5))")
            #expect(stats.ok >= atEnd + 50)

            let after = try await api.stats()
            for kind in ["pods", "services", "endpointslices"] {
                #expect(
                    (after[kind]?.lists ?? 0) - (before[kind]?.lists ?? 0) == 1, "\(kind): one relist for the compaction, none for the cut")
                #expect(after[kind]?.watchesWithoutVersion == 0, "\(kind): every watch resumed from a version")
            }
            let metrics = try await a.run(["curl", "-sS", "http://127.0.0.1:9990/metrics"]).output
            #expect(Metrics.sum(metrics, "controller_kubernetes_relists_total", ["resource=\"pods\""]) == 1, "\(metrics)")
            withExtendedLifetime((controller, proxyA, proxyB, server)) {}
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }

    /// `web`'s slice: its one ready endpoint, and (from the first wave on) a not-ready one that must never be used.
    static func webSlice(_ address: String, generation: Int) -> [String: Any] {
        var endpoints: [(ip: String, pod: String?, ready: Bool)] = [(address, "server-0", true)]
        if generation > 0 { endpoints.append(("10.200.250.\(generation)", nil, false)) }
        return KubeObjects.endpointSlice("web-x7k2p", namespace: "demo", service: "web", endpoints: endpoints)
    }
}

extension TimingSensitiveTests.NetworkNamespaceTests {
    /// A Job's pod as the kubelet runs an injected one: the init container's rules, then the proxy (a native sidecar)
    /// until its startup probe answers, then the job's container to completion through the proxy; the kubelet then
    /// stops the sidecar with SIGTERM, and the pod completes only if the proxy exits, promptly and cleanly.
    @Test func aJobsPodCompletesWithItsNativeSidecarProxy() async throws {
        let (a, b, cleanup) = try await self.makePods()
        do {
            let ip = E2E.which("ip")!
            let server = try ChildProcess(
                ip, b.exec([E2E.python, "-u", E2E.fixtures.appendingPathComponent("upstream.py").path, "8080", "0.0.0.0"]),
                name: "server-in-b")
            _ = try await server.waitForLine(containing: "LISTENING")
            let serverProxy = try await b.startProxy()
            let sidecar = try await a.startProxy()
            let startup = try await a.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:4191/ready"])
            #expect(startup.output == "200", "the startup probe: \(startup.output)")
            let job = try await a.run(["curl", "-sS", "--max-time", "10", "http://\(b.address):8080/report"])
            #expect(job.status == 0 && job.output == "ok /report", "\(job.output)")
            #expect(Metrics.sum(try await a.metrics(), "response_total", ["direction=\"outbound\"", "status_code=\"200\""]) == 1)
            let stopped = ContinuousClock.now
            sidecar.child.signal(SIGTERM)
            let status = try await sidecar.child.waitForExit(timeout: .seconds(15))
            #expect(status == 0, "the sidecar's exit status")
            #expect(ContinuousClock.now - stopped < .seconds(5), "an idle sidecar stops at once, not after its grace period")
            withExtendedLifetime((server, serverProxy)) {}
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }
}
