import Foundation
import Testing

/// Tap on Kubernetes, as Linkerd's is: `swiftlet viz tap` goes to the API server with the user's own kubeconfig, the
/// API server checks RBAC and forwards it (the aggregation layer, `APIService v1alpha1.tap.swiftlet.io`) to the
/// controller's tap API, which trusts only the API server's front proxy and asks a SubjectAccessReview for the user
/// it names. Everything here is what `swiftlet install` prints: the APIService, its certificate, the controller's
/// RBAC and the ClusterRole `swiftlet-tap-admin`; the controller runs as its ServiceAccount.
@Suite(.enabled(if: E2E.available("openssl", "curl", "python3")))
struct KubernetesTapTests {
    @Test(
        "a user bound to swiftlet-tap-admin taps through the API server; one without gets 403 and the hint; only the front proxy gets in"
    )
    func tapThroughTheAggregationLayer() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        let installed = try await run(ControllerProcess.binary, ["install", "-o", "json"])
        let objects = try installObjects(installed.output)
        // All of it but what would run the controller (it runs here) and the webhook (no pods are injected here).
        try await api.apply(
            objects.filter { !["Deployment", "MutatingWebhookConfiguration", "PodDisruptionBudget"].contains($0["kind"] as? String ?? "") })
        let directory = try E2E.temporaryDirectory()
        let tapSecret = objects.object("Secret", "swiftlet-tap-tls")
        let (certificate, key, tapCA) = (
            directory.appendingPathComponent("tap.crt"), directory.appendingPathComponent("tap.key"),
            directory.appendingPathComponent("tap-ca.crt")
        )
        try decodedData(tapSecret, "tls.crt").write(to: certificate, atomically: true, encoding: .utf8)
        try decodedData(tapSecret, "tls.key").write(to: key, atomically: true, encoding: .utf8)
        try decodedData(tapSecret, "ca.crt").write(to: tapCA, atomically: true, encoding: .utf8)

        // web: a meshed pod of Deployment web whose proxy's tap server is on this host.
        let upstream = try await FixtureProcess.start("upstream.py")
        defer { upstream.child.stop() }
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        defer { proxy.stop() }
        var pod = KubeObjects.pod(
            "web-5d8f9-x2x7q", ip: "127.0.0.1", labels: ["app": "web"], replicaSet: (name: "web-5d8f9", hash: "5d8f9"))
        var spec = pod["spec"] as? [String: Any] ?? [:]
        spec["initContainers"] = [
            [
                "name": "swiftlet-proxy", "image": "swiftlet-proxy:test", "restartPolicy": "Always",
                "ports": [["name": "swiftlet-tap", "containerPort": proxy.tapPort, "protocol": "TCP"]],
            ]
        ]
        pod["spec"] = spec
        try await api.apply([pod])

        // The controller as its ServiceAccount, with no more than install grants it.
        try await api.registerTokens([
            "controller-token": ("swiftlet/swiftlet-controller", ["https://kubernetes.default.svc.cluster.local"])
        ])
        let tapPort = E2E.freePort()
        let controller = try await ControllerProcess.start(
            source: ["--kubeconfig", try api.kubeconfig(token: "controller-token").path],
            extra: [
                "--identity-addr", "off", "--control-plane-namespace", "swiftlet", "--tap-addr", "127.0.0.1:\(tapPort)",
                "--tap-certificate",
                certificate.path, "--tap-key", key.path,
            ])
        defer { controller.child.stop() }
        // The Service install made for the tap API, served by this controller.
        try await api.apply([
            KubeObjects.endpointSlice(
                "swiftlet-tap-1", namespace: "swiftlet", service: "swiftlet-tap", port: tapPort, endpoints: [("127.0.0.1", nil, true)]
            )
            .merging(["ports": [["name": "https", "port": tapPort, "protocol": "TCP"]]]) { $1 }
        ])

        try await api.registerUsers(["alice-token": ("alice", ["developers"]), "bob-token": ("bob", ["developers"])])
        try await api.apply([
            [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "alice-tap"],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "swiftlet-tap-admin"],
                "subjects": [["apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"]],
            ]
        ])
        let (alice, bob) = (try api.kubeconfig(token: "alice-token"), try api.kubeconfig(token: "bob-token"))

        // The API server lists the group and reads its resources from the tap API.
        let discovery = try await api.request("GET", "/apis/tap.swiftlet.io/v1alpha1", token: "alice-token")
        #expect(discovery.status == 200 && discovery.body.contains(#""deployments/tap""#), "\(discovery)")
        let groups = try await api.request("GET", "/apis", token: "alice-token")
        #expect(groups.body.contains(#""name":"tap.swiftlet.io""#), "\(groups.body)")

        // alice taps with her own kubeconfig; what curl fetched is what tap shows.
        let tap = try ChildProcess(
            ControllerProcess.binary, ["viz", "tap", "deploy/web", "-n", "default", "--kubeconfig", alice.path], name: "viz tap")
        defer { tap.stop() }
        try await proxy.waitForMetric("tap_streams")
        let fetched = try await run(
            "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "http://127.0.0.1:\(proxy.inboundPort)/bytes/1500"])
        #expect(fetched.output == "200 1500")
        let end = try await tap.waitForLine(where: { $0.hasPrefix("end ") }, describedAs: "the request's end line")
        #expect(end.contains("response-length=1500B"), "\(tap.text)")
        let request = try #require(VizTapTests.lines(tap, "req").first, "\(tap.text)")
        #expect(VizTapTests.field(request, ":path") == "/bytes/1500" && VizTapTests.field(request, "proxy") == "in", "\(request)")
        tap.signal(SIGINT)
        #expect(try await tap.waitForExit() == 0, "Ctrl-C ends the tap: \(tap.text)")

        // bob is refused by the API server, and told how to be granted it.
        let refused = try await run(ControllerProcess.binary, ["viz", "tap", "deploy/web", "-n", "default", "--kubeconfig", bob.path])
        #expect(refused.status != 0)
        #expect(
            refused.output.contains(#"User "bob" cannot watch resource "deployments/tap" in API group "tap.swiftlet.io""#),
            "\(refused.output)")
        #expect(
            refused.output.contains("kubectl create clusterrolebinding") && refused.output.contains("--clusterrole=swiftlet-tap-admin")
                && refused.output.contains("--user=bob"), "\(refused.output)")

        // The tap API itself: the front proxy's certificate naming bob is refused by bob's SubjectAccessReview …
        let frontProxy = [
            "--cert", api.directory.appendingPathComponent("front-proxy-client.crt").path, "--key",
            api.directory.appendingPathComponent("front-proxy-client.key").path,
        ]
        let direct = [
            "-sS", "--max-time", "10", "--cacert", tapCA.path, "--resolve", "swiftlet-tap.swiftlet.svc:\(tapPort):127.0.0.1", "-X", "POST",
            "--data-binary", "", "-w", "\n%{http_code}",
            "https://swiftlet-tap.swiftlet.svc:\(tapPort)/apis/tap.swiftlet.io/v1alpha1/watch/namespaces/default/deployments/web/tap",
        ]
        let asBob = try await run("curl", frontProxy + ["-H", "X-Remote-User: bob", "-H", "X-Remote-Group: developers"] + direct)
        #expect(asBob.output.hasSuffix("\n403"), "\(asBob.output)")
        #expect(asBob.output.contains("tap authorization failed") && asBob.output.contains("swiftlet-tap-admin"), "\(asBob.output)")
        // … and a client without it gets no further than the handshake, whatever its headers say.
        let withoutCertificate = try await run("curl", ["-H", "X-Remote-User: alice"] + direct)
        #expect(withoutCertificate.status != 0 && !withoutCertificate.output.hasSuffix("200"), "\(withoutCertificate.output)")
    }
}
