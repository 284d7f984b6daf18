import Foundation

/// The test API server (Tests/Fixtures/kube_apiserver.py) over HTTPS with a bearer token, as a cluster's is, and
/// the kubeconfig that reaches it. It answers as a real kube-apiserver does (KubeAPIServerFidelityTests holds it to
/// a real one's recorded answers): objects in a namespace need the namespace, pods their ServiceAccount, custom
/// resources their CRD. Writes go through its REST paths with curl; the test controls (cut watches, restart,
/// compaction, stats, tokens) through its `/_test/` paths.
final class KubeAPIServer: Sendable {
    let process: ChildProcess
    let port: Int
    let token: String
    let directory: URL
    /// The kubeconfig a client (the controller, `swiftlet check`) is given.
    let kubeconfig: URL
    let caFile: URL
    /// What the server and every request to it run behind (`ip netns exec <pod>` for a server inside a pod).
    let prefix: [String]

    var server: String { "https://127.0.0.1:\(self.port)" }

    private init(process: ChildProcess, port: Int, token: String, directory: URL, kubeconfig: URL, caFile: URL, prefix: [String]) {
        self.process = process
        self.prefix = prefix
        self.port = port
        self.token = token
        self.directory = directory
        self.kubeconfig = kubeconfig
        self.caFile = caFile
    }

    /// `gatewayAPI`: the Gateway API channel whose v1.2.1 CRDs are installed (`standard`, `experimental`, `none`).
    static func start(
        bookmarkSeconds: Double = 60, history: Int = 100_000, version: String = "1.31.4", gatewayAPI: String = "standard",
        prefix: [String] = []
    ) async throws -> KubeAPIServer {
        try E2E.need("openssl", "curl")
        let directory = try E2E.temporaryDirectory()
        let certificate = directory.appendingPathComponent("apiserver.crt")
        let key = directory.appendingPathComponent("apiserver.key")
        let made = try await run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                "/CN=kube-apiserver",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc", "-keyout", key.path, "-out", certificate.path,
            ]
        )
        guard made.status == 0 else { throw HarnessError("openssl could not make the API server's certificate: \(made.output)") }
        let frontProxy = try await Self.frontProxyCredentials(in: directory)
        let token = "admin-\(UUID().uuidString)"
        let port = E2E.freePort()
        let command =
            prefix + [
                E2E.python, E2E.fixtures.appendingPathComponent("kube_apiserver.py").path, "--port", "\(port)", "--tls-cert",
                certificate.path,
                "--tls-key", key.path, "--token", token, "--bookmark-seconds", "\(bookmarkSeconds)", "--history", "\(history)",
                "--version", version, "--gateway-api", gatewayAPI, "--requestheader-client-ca-file", frontProxy.ca.path,
                "--proxy-client-cert-file", frontProxy.certificate.path, "--proxy-client-key-file", frontProxy.key.path,
            ]
        let process = try ChildProcess(command[0], Array(command.dropFirst()), name: "kube-apiserver")
        _ = try await process.waitForLine(containing: "listening")
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        try Self.writeKubeconfig(kubeconfig, port: port, certificate: certificate, token: token)
        return KubeAPIServer(
            process: process, port: port, token: token, directory: directory, kubeconfig: kubeconfig, caFile: certificate, prefix: prefix)
    }

    /// The aggregation layer's credentials, as kubeadm makes them: a front-proxy CA (what aggregated API servers
    /// trust, published in kube-system/extension-apiserver-authentication) and the client certificate the API server
    /// presents to them, `CN=front-proxy-client`.
    private static func frontProxyCredentials(in directory: URL) async throws -> (ca: URL, certificate: URL, key: URL) {
        let (ca, caKey) = (directory.appendingPathComponent("front-proxy-ca.crt"), directory.appendingPathComponent("front-proxy-ca.key"))
        let (certificate, key) = (
            directory.appendingPathComponent("front-proxy-client.crt"), directory.appendingPathComponent("front-proxy-client.key")
        )
        let request = directory.appendingPathComponent("front-proxy-client.csr")
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                "/CN=front-proxy-ca",
                "-keyout", caKey.path, "-out", ca.path,
            ],
            [
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=front-proxy-client",
                "-keyout",
                key.path, "-out", request.path,
            ],
            [
                "x509", "-req", "-in", request.path, "-CA", ca.path, "-CAkey", caKey.path, "-CAcreateserial", "-days", "1", "-out",
                certificate.path, "-extfile", "/dev/stdin",
            ],
        ]
        for (index, step) in steps.enumerated() {
            let made = try await run("openssl", step, input: index == 2 ? Data("extendedKeyUsage=clientAuth\n".utf8) : nil)
            guard made.status == 0 else { throw HarnessError("openssl could not make the front proxy's credentials: \(made.output)") }
        }
        return (ca, certificate, key)
    }

    /// A kubeconfig for another identity of this server (a token given to `registerUsers` or `registerTokens`).
    func kubeconfig(token: String) throws -> URL {
        let file = self.directory.appendingPathComponent("kubeconfig-\(UUID().uuidString.prefix(8))")
        try Self.writeKubeconfig(file, port: self.port, certificate: self.caFile, token: token)
        return file
    }

    private static func writeKubeconfig(_ kubeconfig: URL, port: Int, certificate: URL, token: String) throws {
        let ca = try Data(contentsOf: certificate).base64EncodedString()
        try """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: https://127.0.0.1:\(port)
            certificate-authority-data: \(ca)
        users:
        - name: admin
          user:
            token: \(token)
        contexts:
        - name: test
          context: {cluster: test, user: admin, namespace: default}
        current-context: test
        """.write(to: kubeconfig, atomically: true, encoding: .utf8)
    }

    /// One request with curl; returns the status and the body.
    @discardableResult
    func request(_ method: String, _ path: String, json: String? = nil, token: String? = nil) async throws -> (status: Int, body: String) {
        var arguments = [
            "-sS", "--cacert", self.caFile.path, "-H", "Authorization: Bearer \(token ?? self.token)", "-H",
            "Content-Type: application/json", "-X", method,
            "-w", "\n%{http_code}", "\(self.server)\(path)",
        ]
        if json != nil { arguments += ["--data-binary", "@-"] }
        let command = self.prefix + ["curl"] + arguments
        let result = try await run(command[0], Array(command.dropFirst()), input: json.map { Data($0.utf8) })
        guard result.status == 0, let newline = result.output.lastIndex(of: "\n"),
            let code = Int(result.output[result.output.index(after: newline)...])
        else {
            throw HarnessError("curl \(method) \(path) failed: \(result.output)")
        }
        return (code, String(result.output[..<newline]))
    }

    /// Creates one object through its collection's path, as `kubectl create` does, as the identity of `token`.
    @discardableResult
    func create(_ object: [String: Any], token: String? = nil) async throws -> (status: Int, body: String) {
        let apiVersion = object["apiVersion"] as? String ?? "v1"
        let kind = object["kind"] as? String ?? ""
        let plural = Self.plurals[kind] ?? kind.lowercased() + "s"
        let namespace = (object["metadata"] as? [String: Any])?["namespace"] as? String
        var path = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        if let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(plural)"
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        return try await self.request("POST", path, json: body, token: token)
    }

    static let plurals = [
        "CustomResourceDefinition": "customresourcedefinitions", "PodDisruptionBudget": "poddisruptionbudgets", "Policy": "policies",
        "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
    ]

    /// Creates or replaces each object (one event each), in order.
    func apply(_ objects: [[String: Any]]) async throws {
        try await self.bulk(["objects": objects])
    }

    func delete(_ kind: String, namespace: String, _ name: String) async throws {
        try await self.bulk(["delete": [["kind": kind, "namespace": namespace, "name": name]]])
    }

    /// Deletes each (kind, name) of `namespace` in one request (one event each).
    func delete(_ objects: [(kind: String, name: String)], namespace: String) async throws {
        try await self.bulk(["delete": objects.map { ["kind": $0.kind, "namespace": namespace, "name": $0.name] }])
    }

    private func bulk(_ body: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: body)
        let (status, text) = try await self.request("POST", "/_test/bulk", json: String(decoding: data, as: UTF8.self))
        let decoded = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        guard status == 200, let results = decoded?["results"] as? [Int], results.allSatisfy({ $0 < 300 }) else {
            throw HarnessError("the test API server refused a write: \(status) \(text)")
        }
    }

    /// Ends every open watch abruptly, as a load balancer's cut does.
    func cutWatches() async throws { try await self.request("POST", "/_test/cut-watches", json: "{}") }

    /// An API server restart: the watches end and the watch cache starts again at the current version, so each
    /// watcher comes back too old, gets the 410 ERROR event, and lists again.
    func restart() async throws { try await self.request("POST", "/_test/restart", json: "{}") }

    /// Tokens TokenReview accepts: token → (service account "namespace/name", audiences). The accounts are created
    /// (a real token is an existing account's); their namespaces must exist.
    func registerTokens(_ tokens: [String: (serviceAccount: String, audiences: [String])]) async throws {
        var body: [String: Any] = [:]
        var accounts: [[String: Any]] = []
        for (token, entry) in tokens {
            let parts = entry.serviceAccount.split(separator: "/").map(String.init)
            body[token] = ["username": "system:serviceaccount:\(parts[0]):\(parts[1])", "audiences": entry.audiences]
            accounts.append(KubeObjects.serviceAccount(parts[1], namespace: parts[0]))
        }
        try await self.apply(accounts)
        let data = try JSONSerialization.data(withJSONObject: body)
        try await self.request("POST", "/_test/tokens", json: String(decoding: data, as: UTF8.self))
    }

    /// Identities for the API's own authentication: token → (user name, groups), authorized by RBAC alone.
    func registerUsers(_ users: [String: (name: String, groups: [String])]) async throws {
        var body: [String: Any] = [:]
        for (token, user) in users { body[token] = ["username": user.name, "groups": user.groups] }
        let data = try JSONSerialization.data(withJSONObject: body)
        try await self.request("POST", "/_test/users", json: String(decoding: data, as: UTF8.self))
    }

    /// How many lists and watches each resource (`pods`, `endpointslices`) was asked for.
    func stats() async throws -> [String: (lists: Int, watches: Int, watchesWithoutVersion: Int)] {
        let (_, body) = try await self.request("GET", "/_test/stats")
        let decoded = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: [String: Int]] ?? [:]
        var result: [String: (Int, Int, Int)] = [:]
        for (resource, counts) in decoded {
            let name = resource.split(separator: "/").last.map(String.init) ?? resource
            result[name] = (counts["list"] ?? 0, counts["watch"] ?? 0, counts["watch_without_version"] ?? 0)
        }
        return result
    }

    /// How many TLS connections chose each protocol (`h2`, `http/1.1`) by ALPN.
    func protocols() async throws -> [String: Int] {
        let (_, body) = try await self.request("GET", "/_test/protocols")
        return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Int] ?? [:]
    }

    func stop() { self.process.stop() }
}

/// Objects as the API holds them, for tests to write.
enum KubeObjects {
    static func namespace(_ name: String, labels: [String: String] = [:], annotations: [String: String] = [:]) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "labels": labels, "annotations": annotations]]
    }

    static func serviceAccount(_ name: String, namespace: String = "default") -> [String: Any] {
        ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": name, "namespace": namespace]]
    }

    static func service(
        _ name: String, namespace: String = "default", selector: [String: String], port: Int = 80, targetPort: Any = "http",
        clusterIP: String? = nil
    )
        -> [String: Any]
    {
        var spec: [String: Any] = [
            "selector": selector, "ports": [["name": "http", "port": port, "targetPort": targetPort, "protocol": "TCP"]],
        ]
        if let clusterIP { spec["clusterIP"] = clusterIP }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": namespace], "spec": spec]
    }

    /// A running pod; `meshed` adds the injector's label, `replicaSet` an owner made by a Deployment.
    static func pod(
        _ name: String, namespace: String = "default", ip: String, labels: [String: String], serviceAccount: String = "default",
        port: Int = 8080,
        meshed: Bool = true, replicaSet: (name: String, hash: String)? = nil, ready: Bool = true
    ) -> [String: Any] {
        var labels = labels
        if meshed { labels["swiftlet.io/control-plane-ns"] = "swiftlet" }
        var metadata: [String: Any] = ["name": name, "namespace": namespace]
        if let replicaSet {
            labels["pod-template-hash"] = replicaSet.hash
            metadata["ownerReferences"] = [
                ["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replicaSet.name, "uid": UUID().uuidString, "controller": true]
            ]
        }
        metadata["labels"] = labels
        return [
            "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": [
                "serviceAccountName": serviceAccount,
                "containers": [["name": "app", "image": "app:1", "ports": [["name": "http", "containerPort": port, "protocol": "TCP"]]]],
            ],
            "status": [
                "phase": "Running", "podIP": ip,
                "conditions": [["type": "Ready", "status": ready ? "True" : "False"]],
            ],
        ]
    }

    /// An EndpointSlice of `service`: each endpoint (address, pod, ready) on one named port.
    static func endpointSlice(
        _ name: String, namespace: String = "default", service: String, port: Int = 8080,
        endpoints: [(ip: String, pod: String?, ready: Bool)]
    ) -> [String: Any] {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": ["name": name, "namespace": namespace, "labels": ["kubernetes.io/service-name": service]],
            "ports": [["name": "http", "port": port, "protocol": "TCP"]],
            "endpoints": endpoints.map { endpoint -> [String: Any] in
                var entry: [String: Any] = [
                    "addresses": [endpoint.ip], "conditions": ["ready": endpoint.ready, "serving": endpoint.ready],
                ]
                if let pod = endpoint.pod { entry["targetRef"] = ["kind": "Pod", "name": pod, "namespace": namespace] }
                return entry
            },
        ]
    }
}
