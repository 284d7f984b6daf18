import Foundation

/// The test API server (Tests/Fixtures/kube_apiserver.py) over HTTPS with a bearer token, as a cluster's is, and
/// the kubeconfig that reaches it. Writes go through its REST paths with curl; the test controls (cut watches,
/// compact, stats, tokens) through its `/_test/` paths.
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

    static func start(bookmarkSeconds: Double = 0.5, history: Int = 100_000, version: String = "1.31.4", prefix: [String] = []) async throws -> KubeAPIServer {
        try E2E.need("openssl", "curl")
        let directory = try E2E.temporaryDirectory()
        let certificate = directory.appendingPathComponent("apiserver.crt")
        let key = directory.appendingPathComponent("apiserver.key")
        let made = try await run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=kube-apiserver",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc", "-keyout", key.path, "-out", certificate.path,
            ]
        )
        guard made.status == 0 else { throw HarnessError("openssl could not make the API server's certificate: \(made.output)") }
        let token = "admin-\(UUID().uuidString)"
        let port = E2E.freePort()
        let command = prefix + [
            E2E.python, E2E.fixtures.appendingPathComponent("kube_apiserver.py").path, "--port", "\(port)", "--tls-cert", certificate.path,
            "--tls-key", key.path, "--token", token, "--bookmark-seconds", "\(bookmarkSeconds)", "--history", "\(history)",
            "--version", version,
        ]
        let process = try ChildProcess(command[0], Array(command.dropFirst()), name: "kube-apiserver")
        _ = try await process.waitForLine(containing: "listening")
        let ca = try Data(contentsOf: certificate).base64EncodedString()
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
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
        return KubeAPIServer(process: process, port: port, token: token, directory: directory, kubeconfig: kubeconfig, caFile: certificate, prefix: prefix)
    }

    /// One request with curl; returns the status and the body.
    @discardableResult
    func request(_ method: String, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
        var arguments = [
            "-sS", "--cacert", self.caFile.path, "-H", "Authorization: Bearer \(self.token)", "-H", "Content-Type: application/json", "-X", method,
            "-w", "\n%{http_code}", "\(self.server)\(path)",
        ]
        if json != nil { arguments += ["--data-binary", "@-"] }
        let command = self.prefix + ["curl"] + arguments
        let result = try await run(command[0], Array(command.dropFirst()), input: json.map { Data($0.utf8) })
        guard result.status == 0, let newline = result.output.lastIndex(of: "\n"), let code = Int(result.output[result.output.index(after: newline)...])
        else {
            throw HarnessError("curl \(method) \(path) failed: \(result.output)")
        }
        return (code, String(result.output[..<newline]))
    }

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
        let results = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [Int]])?["results"]
        guard status == 200, let results, results.allSatisfy({ $0 < 300 }) else {
            throw HarnessError("the test API server refused a write: \(status) \(text)")
        }
    }

    /// Ends every open watch, as an API server restart does.
    func cutWatches() async throws { try await self.request("POST", "/_test/cut-watches", json: "{}") }

    /// Forgets the history and ends the watches: each watcher comes back too old, gets 410, and relists.
    func compact() async throws { try await self.request("POST", "/_test/compact", json: "{}") }

    /// Tokens TokenReview accepts: token → (service account "namespace/name", audiences).
    func registerTokens(_ tokens: [String: (serviceAccount: String, audiences: [String])]) async throws {
        var body: [String: Any] = [:]
        for (token, entry) in tokens {
            let parts = entry.serviceAccount.split(separator: "/")
            body[token] = ["username": "system:serviceaccount:\(parts[0]):\(parts[1])", "audiences": entry.audiences]
        }
        let data = try JSONSerialization.data(withJSONObject: body)
        try await self.request("POST", "/_test/tokens", json: String(decoding: data, as: UTF8.self))
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

    func stop() { self.process.stop() }
}

/// Objects as the API holds them, for tests to write.
enum KubeObjects {
    static func service(_ name: String, namespace: String = "default", selector: [String: String], port: Int = 80, targetPort: Any = "http", clusterIP: String? = nil)
        -> [String: Any]
    {
        var spec: [String: Any] = ["selector": selector, "ports": [["name": "http", "port": port, "targetPort": targetPort, "protocol": "TCP"]]]
        if let clusterIP { spec["clusterIP"] = clusterIP }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": namespace], "spec": spec]
    }

    /// A running pod; `meshed` adds the injector's label, `replicaSet` an owner made by a Deployment.
    static func pod(
        _ name: String, namespace: String = "default", ip: String, labels: [String: String], serviceAccount: String = "default", port: Int = 8080,
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
        _ name: String, namespace: String = "default", service: String, port: Int = 8080, endpoints: [(ip: String, pod: String?, ready: Bool)]
    ) -> [String: Any] {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": ["name": name, "namespace": namespace, "labels": ["kubernetes.io/service-name": service]],
            "ports": [["name": "http", "port": port, "protocol": "TCP"]],
            "endpoints": endpoints.map { endpoint -> [String: Any] in
                var entry: [String: Any] = ["addresses": [endpoint.ip], "conditions": ["ready": endpoint.ready, "serving": endpoint.ready]]
                if let pod = endpoint.pod { entry["targetRef"] = ["kind": "Pod", "name": pod, "namespace": namespace] }
                return entry
            },
        ]
    }
}
