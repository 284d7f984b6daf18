import Foundation
import Testing

extension TimingSensitiveTests {
    /// The Gateway API's mesh (GAMMA) conformance cases and its route retry cases, translated to local mode: the same
    /// Services and route manifests (conformance/mesh/manifests.yaml, conformance/tests/mesh/*.yaml,
    /// httproute-retry*.yaml with the parent a Service), the same requests and the same expectations, each request
    /// sent through a client proxy of the namespace the suite's client runs in, each expectation held as the suite's
    /// `MakeRequestAndExpectEventuallyConsistentResponse` holds it (eventually, then three times in a row).
    @Suite(.serialized, .enabled(if: E2E.available("curl")))
    struct GatewayMeshConformanceTests {
        static let mesh = "gateway-conformance-mesh"
        static let consumer = "gateway-conformance-mesh-consumer"

        /// conformance/mesh/manifests.yaml's Services, their pods as Workloads (echo-v1, echo-v2), each a
        /// `mesh_echo.py`.
        final class Mesh: @unchecked Sendable {
            let directory: URL
            let controller: ControllerProcess
            /// Client proxies by namespace: what `echo.ConnectToApp` (the mesh namespace) and
            /// `ConnectToAppInNamespace(..., MeshConsumerNamespace)` send from.
            let clients: [String: ProxyProcess]
            let echoes: [FixtureProcess]

            static func start(routes: String) async throws -> Mesh {
                let directory = try E2E.temporaryDirectory()
                let v1 = try await FixtureProcess.start("mesh_echo.py", ["echo-v1-7f6b8-x2x7q", mesh])
                let v2 = try await FixtureProcess.start("mesh_echo.py", ["echo-v2-5d9c7-k8j2p", mesh])
                var text = ""
                for (name, selector) in [
                    ("echo-v1", "{app: echo, version: v1}"), ("echo-v2", "{app: echo, version: v2}"), ("echo", "{app: echo}"),
                ] {
                    text += """
                        apiVersion: v1
                        kind: Service
                        metadata: {name: \(name), namespace: \(mesh)}
                        spec:
                          selector: \(selector)
                          ports:
                          - {name: http, port: 80, appProtocol: http, targetPort: http}
                          - {name: http-alt, port: 8080, appProtocol: http, targetPort: http}
                        ---

                        """
                }
                for (name, version, echo) in [("echo-v1-7f6b8-x2x7q", "v1", v1), ("echo-v2-5d9c7-k8j2p", "v2", v2)] {
                    text += """
                        apiVersion: swiftlet.io/v1alpha1
                        kind: Workload
                        metadata: {name: \(name), namespace: \(mesh), labels: {app: echo, version: \(version)}}
                        spec: {serviceAccount: echo, address: 127.0.0.1, ports: [{name: http, port: \(echo.port)}]}
                        ---

                        """
                }
                try text.write(to: directory.appendingPathComponent("manifests.yaml"), atomically: true, encoding: .utf8)
                try routes.write(to: directory.appendingPathComponent("routes.yaml"), atomically: true, encoding: .utf8)
                let controller = try await ControllerProcess.start(manifests: directory)
                var clients: [String: ProxyProcess] = [:]
                for namespace in [mesh, consumer] {
                    // Two event loops: the route's retry budget is shared by both (one budget per route).
                    clients[namespace] = try await ProxyProcess.start([
                        "SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:\(controller.destinationPort)", "SWIFTLET_PROXY_NAMESPACE": namespace,
                        "SWIFTLET_PROXY_WORKER_THREADS": "2",
                    ])
                }
                return Mesh(directory: directory, controller: controller, clients: clients, echoes: [v1, v2])
            }

            private init(directory: URL, controller: ControllerProcess, clients: [String: ProxyProcess], echoes: [FixtureProcess]) {
                self.directory = directory
                self.controller = controller
                self.clients = clients
                self.echoes = echoes
            }

            func stop() {
                for client in self.clients.values { client.stop() }
                self.controller.child.stop()
                for echo in self.echoes { echo.child.stop() }
            }
        }

        /// An `http.ExpectedResponse`: the request, and the status, backend and headers expected.
        struct Case: CustomStringConvertible {
            var host = "echo"
            var path = "/"
            var headers: [String: String] = [:]
            var status = 200
            /// The backend (a pod name's prefix) that must have answered, when the status is 200.
            var backend: String? = nil
            var responseHeaders: [String: String] = [:]
            var absentHeaders: [String] = []

            var description: String { "\(self.host)\(self.path) \(self.headers) → \(self.status) \(self.backend ?? "")" }
        }

        struct Answer: CustomStringConvertible {
            var status: Int
            var headers: [String: String]
            var pod: String?
            var namespace: String?
            var description: String { "\(self.status) pod=\(self.pod ?? "-") headers=\(self.headers)" }
        }

        /// A manifest of the suite (Tests/Fixtures/gateway-conformance, see its README).
        static func manifest(_ name: String) throws -> String {
            try String(contentsOf: E2E.fixtures.appendingPathComponent("gateway-conformance/\(name)"), encoding: .utf8)
        }

        static func send(_ c: Case, through proxy: ProxyProcess, path: String? = nil) async throws -> Answer {
            var arguments = ["-sS", "--max-time", "10", "-D", "-", "-o", "-", "-H", "Host: \(c.host)"]
            for (name, value) in c.headers { arguments += ["-H", "\(name): \(value)"] }
            arguments.append("http://127.0.0.1:\(proxy.outboundPort)\(path ?? c.path)")
            let result = try await run("curl", arguments)
            let parts = result.output.components(separatedBy: "\r\n\r\n")
            let head = parts.first?.components(separatedBy: "\r\n") ?? []
            let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let body = parts.dropFirst().joined(separator: "\r\n\r\n")
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return Answer(status: status, headers: headers, pod: json?["pod"] as? String, namespace: json?["namespace"] as? String)
        }

        static func satisfies(_ answer: Answer, _ c: Case) -> Bool {
            guard answer.status == c.status else { return false }
            if let backend = c.backend, !(answer.pod?.hasPrefix(backend + "-") ?? false) || answer.namespace != mesh { return false }
            for (name, value) in c.responseHeaders where answer.headers[name.lowercased()] != value { return false }
            return c.absentHeaders.allSatisfy { answer.headers[$0.lowercased()] == nil }
        }

        /// Eventually (routes reach the proxy a moment after they are written), then three times in a row.
        /// `path` makes each request's path (the retry cases put a fresh uuid in each).
        static func expect(
            _ c: Case, from proxy: ProxyProcess, path: (@Sendable () -> String)? = nil, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            var inRow = 0
            var last: Answer? = nil
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let answer = try await Self.send(c, through: proxy, path: path?())
                last = answer
                if Self.satisfies(answer, c) {
                    inRow += 1
                    if inRow == 3 { return }
                } else {
                    inRow = 0
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            Issue.record("\(c): the last answer was \(last.map(String.init(describing:)) ?? "none")", sourceLocation: sourceLocation)
        }

        /// MeshHTTPRouteQueryParamMatching (conformance/tests/mesh/httproute-query-param-matching.go and .yaml): a
        /// request no rule matches is answered 404.
        @Test func meshHTTPRouteQueryParamMatching() async throws {
            let mesh = try await Mesh.start(routes: try Self.manifest("httproute-query-param-matching.yaml"))
            defer { mesh.stop() }
            let client = try #require(mesh.clients[Self.mesh])
            let cases: [Case] = [
                Case(path: "/?animal=whale", backend: "echo-v1"), Case(path: "/?animal=dolphin", backend: "echo-v2"),
                Case(path: "/?animal=whale&otherparam=irrelevant", backend: "echo-v1"),
                Case(path: "/?animal=dolphin&color=yellow", backend: "echo-v2"),
                Case(path: "/?color=blue", status: 404), Case(path: "/?animal=dog", status: 404),
                Case(path: "/?animal=whaledolphin", status: 404),
                Case(path: "/", status: 404),
                Case(path: "/path1?animal=whale", backend: "echo-v1"),
                Case(path: "/?animal=whale", headers: ["version": "one"], backend: "echo-v2"),
                Case(path: "/path3?animal=shark", backend: "echo-v1"),
                Case(path: "/path4?animal=kraken", headers: ["version": "three"], backend: "echo-v1"),
                Case(path: "/?animal=shark", status: 404), Case(path: "/path4?animal=kraken", status: 404),
                Case(path: "/path5?animal=hydra", backend: "echo-v1"), Case(path: "/path6?animal=hydra", backend: "echo-v2"),
            ]
            for c in cases { try await Self.expect(c, from: client) }
            // The proxy says why: the 404 is its own, not the backend's.
            let answer = try await Self.send(Case(path: "/?color=blue"), through: client)
            #expect(answer.headers["swiftlet-proxy-error"]?.hasPrefix("route_not_found") == true, "\(answer)")
        }

        /// MeshHTTPRouteMatching (httproute-matching.go and .yaml).
        @Test func meshHTTPRouteMatching() async throws {
            let mesh = try await Mesh.start(routes: try Self.manifest("httproute-matching.yaml"))
            defer { mesh.stop() }
            let client = try #require(mesh.clients[Self.mesh])
            for c in [
                Case(path: "/", backend: "echo-v1"), Case(path: "/example", backend: "echo-v1"),
                Case(path: "/", headers: ["Version": "one"], backend: "echo-v1"),
                Case(path: "/v2", backend: "echo-v2"), Case(path: "/v2/example", backend: "echo-v2"),
                Case(path: "/", headers: ["Version": "two"], backend: "echo-v2"),
                Case(path: "/v2/", backend: "echo-v2"), Case(path: "/v2example", backend: "echo-v1"),
                Case(path: "/foo/v2/example", backend: "echo-v1"),
            ] {
                try await Self.expect(c, from: client)
            }
        }

        /// MeshConsumerRoute (mesh-consumer-route.go and .yaml): a route in the client's namespace for a Service of
        /// another applies to that namespace's clients only.
        @Test func meshConsumerRoute() async throws {
            let mesh = try await Mesh.start(routes: try Self.manifest("mesh-consumer-route.yaml"))
            defer { mesh.stop() }
            try await Self.expect(
                Case(host: "echo-v1.gateway-conformance-mesh", backend: "echo-v1", responseHeaders: ["X-Header-Set": "set"]),
                from: try #require(mesh.clients[Self.consumer])
            )
            try await Self.expect(
                Case(host: "echo-v1.gateway-conformance-mesh", backend: "echo-v1", absentHeaders: ["X-Header-Set"]),
                from: try #require(mesh.clients[Self.mesh])
            )
        }

        /// GEP-1294: a Service-parented route's `hostnames` infer nothing: mesh-frontend.yaml's route, given hostnames
        /// that name no client's Host, still takes the Service's requests (MeshFrontend's cases).
        @Test func hostnamesOfAMeshRouteInferNothing() async throws {
            let mesh = try await Mesh.start(
                routes: try Self.manifest("mesh-frontend.yaml").replacingOccurrences(
                    of: "    name: echo-v2\n  rules:", with: "    name: echo-v2\n  hostnames: [echo-v2.example.com]\n  rules:"))
            defer { mesh.stop() }
            try await Self.expect(
                Case(host: "echo-v2", backend: "echo-v2", responseHeaders: ["X-Header-Set": "set"]),
                from: try #require(mesh.clients[Self.mesh]))
            try await Self.expect(
                Case(host: "echo-v1", backend: "echo-v1", absentHeaders: ["X-Header-Set"]), from: try #require(mesh.clients[Self.mesh]))
        }

        /// HTTPRouteRetry and HTTPRouteRetryConnectionError (httproute-retry*.go and .yaml, the parent a Service), at
        /// the suite's pace (one request at a time, each on a new connection, spread over the proxy's two event
        /// loops): every retry is taken (the budget's floor of 10 a second holds with its loops sharing it), and
        /// connection failures that outlast the attempts are a 503.
        @Test func httpRouteRetryAndRetryConnectionError() async throws {
            let mesh = try await Mesh.start(routes: try Self.manifest("httproute-retry-mesh.yaml"))
            defer { mesh.stop() }
            let client = try #require(mesh.clients[Self.mesh])
            let cases: [(path: String, query: String, status: Int)] = [
                ("/retry/code-500-attempts-3", "responseCode=500&succeedAfter=2", 200),
                ("/retry/code-500-attempts-3", "responseCode=500&succeedAfter=4", 500),
                ("/retry/code-500-attempts-3", "responseCode=503&succeedAfter=2", 503),
                ("/retry/code-all-attempts-2", "responseCode=500&succeedAfter=1", 200),
                ("/retry/code-all-attempts-2", "responseCode=500&succeedAfter=3", 500),
                ("/retry/code-all-attempts-2", "responseCode=502&succeedAfter=1", 200),
                ("/retry/code-all-attempts-2", "responseCode=502&succeedAfter=3", 502),
                ("/retry/code-all-attempts-2", "responseCode=503&succeedAfter=1", 200),
                ("/retry/code-all-attempts-2", "responseCode=503&succeedAfter=3", 503),
                ("/retry/code-all-attempts-2", "responseCode=504&succeedAfter=1", 200),
                ("/retry/code-all-attempts-2", "responseCode=504&succeedAfter=3", 504),
                // HTTPRouteRetryConnectionError: resets; the suite accepts 500 or 503 when they outlast the attempts.
                ("/retry/no-status-code-attempts-3", "succeedAfter=2", 200), ("/retry/no-status-code-attempts-3", "succeedAfter=4", 503),
            ]
            for c in cases {
                try await Self.expect(Case(host: "echo-v1", status: c.status, backend: c.status == 200 ? "echo-v1" : nil), from: client) {
                    "\(c.path)?\(c.query)&uuid=\(UUID().uuidString)"
                }
            }
            let exhausted = try await Self.send(
                Case(host: "echo-v1"), through: client, path: "/retry/no-status-code-attempts-3?succeedAfter=9&uuid=\(UUID().uuidString)")
            #expect(exhausted.headers["swiftlet-proxy-error"]?.hasPrefix("retries_exhausted") == true, "\(exhausted)")
            #expect(try await client.metric("outbound_http_route_retry_limit_exceeded_total") >= 1)
            // At this pace no retry was refused for want of budget: the floor of 10 a second holds, loops sharing it.
            #expect(try await client.metric("outbound_http_route_retry_overflow_total") == 0)
            #expect(try await client.metric("outbound_http_route_retry_requests_total") >= 30)
        }
    }
}
