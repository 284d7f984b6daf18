import Foundation
import Testing

extension TimingSensitiveTests {
    /// Two "pods" as network namespaces joined by a veth pair, each with iptables rules like Linkerd's proxy-init and a
    /// transparent `swiftlet-proxy` running as uid 2102. A client in one pod reaches a server in the other through
    /// both proxies without knowing they exist.
    @Suite(
        .serialized,
        .enabled(if: E2E.required || (E2E.isRoot && E2E.which("iptables") != nil && E2E.which("ip") != nil && E2E.which("setpriv") != nil)))
    struct NetworkNamespaceTests {
        static let proxyUID = "2102"

        /// A namespace pod: created with loopback up, removed (with its processes) when released.
        final class Pod: @unchecked Sendable {
            let name: String
            let address: String

            init(name: String, address: String) {
                self.name = name
                self.address = address
            }

            func exec(_ arguments: [String]) -> [String] { ["netns", "exec", self.name] + arguments }

            func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
                try await EndToEndTests.run("ip", self.exec(arguments))
            }

            func must(_ arguments: [String]) async throws {
                let result = try await self.run(arguments)
                if result.status != 0 {
                    throw HarnessError("in \(self.name): \(arguments.joined(separator: " ")) failed: \(result.output)")
                }
            }

            /// Linkerd proxy-init's rules, written by `swiftlet-proxy init` as the injected init container writes them:
            /// inbound TCP (but the proxy's own admin ports) to 4143; outbound TCP to 4140, except the proxy's own traffic
            /// (uid 2102) and loopback. Run twice, as when a pod's sandbox restarts: the second run finds them in place.
            func installProxyInitRules(ignoringInboundPorts ignored: [Int] = []) async throws {
                let arguments =
                    [E2E.proxyBinary, "init", "--proxy-uid", TimingSensitiveTests.NetworkNamespaceTests.proxyUID]
                    + (ignored.isEmpty ? [] : ["--skip-inbound-ports", ignored.map(String.init).joined(separator: ",")])
                try await self.must(arguments)
                let again = try await self.run(arguments)
                #expect(again.status == 0 && again.output.contains("already in place"), "\(again.output)")
                let rules = try await self.run(["iptables", "-t", "nat", "-S"]).output
                #expect(rules.components(separatedBy: "-j PROXY_INIT_OUTPUT").count - 1 == 1, "the jump is there once: \(rules)")
                #expect(rules.contains("--dports 4190,4191\(ignored.map { ",\($0)" }.joined()) -j RETURN"), "\(rules)")
            }

            func startProxy(_ extra: [String: String] = [:]) async throws -> ProxyProcess {
                try await ProxyProcess.start(
                    [
                        "SWIFTLET_PROXY_MODE": "transparent",
                        "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "0.0.0.0:4143",
                        "SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:4140",
                        "SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "0.0.0.0:4191",
                    ].merging(extra) { $1 },
                    prefix: [E2E.which("ip")!]
                        + self.exec([
                            E2E.which("setpriv")!, "--reuid=\(TimingSensitiveTests.NetworkNamespaceTests.proxyUID)",
                            "--regid=\(TimingSensitiveTests.NetworkNamespaceTests.proxyUID)", "--clear-groups",
                        ])
                )
            }

            func metrics() async throws -> String {
                try await self.run(["curl", "-sS", "http://127.0.0.1:4191/metrics"]).output
            }
        }

        /// Builds pods `a` (198.51.100.1) and `b` (198.51.100.2) on one veth link; TEST-NET-2 addresses that exist only
        /// inside these namespaces.
        func makePods(ignoringInboundPortsOfA ignored: [Int] = []) async throws -> (Pod, Pod, () async -> Void) {
            try E2E.need("ip", "iptables", "setpriv", "curl")
            guard E2E.isRoot else { throw HarnessError("network namespaces need root") }
            let suffix = String(UUID().uuidString.prefix(6)).lowercased()
            let a = Pod(name: "swl-a-\(suffix)", address: "198.51.100.1")
            let b = Pod(name: "swl-b-\(suffix)", address: "198.51.100.2")
            let cleanup = {
                for pod in [a, b] {
                    _ = try? await run("sh", ["-c", "ip netns pids \(pod.name) | xargs -r kill -9; ip netns del \(pod.name)"])
                }
            }
            do {
                for pod in [a, b] {
                    try await self.ip(["netns", "add", pod.name])
                    try await pod.must(["ip", "link", "set", "lo", "up"])
                }
                try await self.ip([
                    "link", "add", "va-\(suffix)", "netns", a.name, "type", "veth", "peer", "name", "vb-\(suffix)", "netns", b.name,
                ])
                for (pod, device) in [(a, "va-\(suffix)"), (b, "vb-\(suffix)")] {
                    try await pod.must(["ip", "addr", "add", "\(pod.address)/24", "dev", device])
                    try await pod.must(["ip", "link", "set", device, "up"])
                    try await pod.installProxyInitRules(ignoringInboundPorts: pod === a ? ignored : [])
                }
            } catch {
                await cleanup()
                throw error
            }
            return (a, b, cleanup)
        }

        func ip(_ arguments: [String]) async throws {
            let result = try await run("ip", arguments)
            if result.status != 0 { throw HarnessError("ip \(arguments.joined(separator: " ")): \(result.output)") }
        }

        @Test func aClientReachesAServerInAnotherPodThroughBothProxiesTransparently() async throws {
            let (a, b, cleanup) = try await self.makePods()
            do {
                let server = try ChildProcess(
                    E2E.which("ip")!,
                    b.exec([E2E.python, "-u", E2E.fixtures.appendingPathComponent("upstream.py").path, "8080", "0.0.0.0"]),
                    name: "server-in-b"
                )
                _ = try await server.waitForLine(containing: "LISTENING")
                let proxyA = try await a.startProxy()
                let proxyB = try await b.startProxy()

                // The client knows nothing of proxies: it dials the server's pod address.
                let response = try await a.run([
                    "curl", "-sS", "--max-time", "10", "http://\(b.address):8080/hello", "http://\(b.address):8080/again",
                ])
                #expect(response.status == 0, "\(response.output)")
                #expect(response.output == "ok /hellook /again")

                let outbound = try await a.metrics()
                #expect(Metrics.sum(outbound, "request_total", ["direction=\"outbound\"", "target_addr=\"\(b.address):8080\""]) == 2)
                #expect(Metrics.sum(outbound, "response_total", ["direction=\"outbound\"", "status_code=\"200\""]) == 2)
                let inbound = try await b.metrics()
                #expect(Metrics.sum(inbound, "request_total", ["direction=\"inbound\"", "target_addr=\"\(b.address):8080\""]) == 2)
                #expect(Metrics.sum(inbound, "response_total", ["direction=\"inbound\"", "status_code=\"200\""]) == 2)
                withExtendedLifetime((server, proxyA, proxyB)) {}
            } catch {
                await cleanup()
                throw error
            }
            await cleanup()
        }

        @Test func dialingTheOutboundPortDirectlyIsRefusedAsALoopAndCounted() async throws {
            let (a, _, cleanup) = try await self.makePods()
            do {
                let proxyA = try await a.startProxy()
                // Loopback is not redirected, so SO_ORIGINAL_DST names the proxy's own listener: it must not dial itself.
                let result = try await a.run(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:4140/"])
                #expect(result.status != 0)
                let metrics = try await a.metrics()
                #expect(Metrics.sum(metrics, "outbound_tcp_errors_total", ["error=\"loop_detected\""]) == 1)
                #expect(Metrics.sum(metrics, "process_open_fds", []) < 100)
                withExtendedLifetime(proxyA) {}
            } catch {
                await cleanup()
                throw error
            }
            await cleanup()
        }

        /// A connection to a Service's cluster IP (an address no host has) is captured, and the proxy sends it to one of
        /// the service's endpoints, chosen per connection by the balancer, as discovery names them.
        @Test func connectionsToAClusterIPAreBalancedAcrossTheServiceEndpoints() async throws {
            let (a, b, cleanup) = try await self.makePods()
            do {
                let suffix = a.name.split(separator: "-").last!
                try await a.must(["ip", "route", "add", "10.96.0.0/16", "dev", "va-\(suffix)"])
                var servers: [ChildProcess] = []
                for port in ["8080", "8081"] {
                    let server = try ChildProcess(
                        E2E.which("ip")!,
                        b.exec([E2E.python, "-u", E2E.fixtures.appendingPathComponent("upstream.py").path, port, "0.0.0.0"]),
                        name: "server-\(port)"
                    )
                    _ = try await server.waitForLine(containing: "LISTENING")
                    servers.append(server)
                }
                let manifests = try E2E.temporaryDirectory()
                try """
                apiVersion: v1
                kind: Service
                metadata: {name: db}
                spec:
                  clusterIP: 10.96.0.10
                  selector: {app: db}
                  ports: [{name: pg, port: 5432, targetPort: pg}]
                ---
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata: {name: db-0, labels: {app: db}}
                spec: {address: \(b.address), ports: [{name: pg, port: 8080}]}
                ---
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata: {name: db-1, labels: {app: db}}
                spec: {address: \(b.address), ports: [{name: pg, port: 8081}]}

                """.write(to: manifests.appendingPathComponent("db.yaml"), atomically: true, encoding: .utf8)
                let controller = try ChildProcess(
                    E2E.which("ip")!,
                    a.exec([
                        ControllerProcess.binary, "controller", "--manifests", manifests.path, "--destination-addr", "127.0.0.1:8086",
                        "--admin-addr", "127.0.0.1:9990",
                        "--destination-plaintext",
                    ]),
                    name: "controller-in-a"
                )
                controller.stopSignal = SIGTERM
                _ = try await controller.waitForLine(containing: "swiftlet controller ready")
                let proxyA = try await a.startProxy(["SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:8086"])
                let proxyB = try await b.startProxy()
                // A tap of opaque connections to the Service (by its labels, which an opaque connection has from
                // discovery before any endpoint is chosen), in a's namespace where the tap port is loopback.
                let tap = try ChildProcess(
                    E2E.which("ip")!,
                    a.exec([
                        E2E.python, "-u", E2E.fixtures.appendingPathComponent("tap_client.py").path, "127.0.0.1:\(proxyA.tapPort)",
                        #"{"limit": 1, "tcp": true, "match": {"destination_label": {"key": "service", "value": "db"}}}"#,
                    ]),
                    name: "tap-in-a")
                var tapOpen = false
                for _ in 0..<250 where !tapOpen {
                    tapOpen = Metrics.sum(try await a.metrics(), "tap_streams", []) >= 1
                    if !tapOpen { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(tapOpen, "\(tap.text)")
                // The Service known to a's proxy before the first connection.
                let warm = try await a.run([
                    "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%header{x-served-by}", "http://10.96.0.10:5432/ok",
                ])
                #expect(warm.status == 0, "\(warm.output)")
                let warmedFirst = warm.output.trimmingCharacters(in: .whitespacesAndNewlines) == "8080" ? 1 : 0

                // 5432 is an opaque port: each connection is relayed as bytes, so the choice is per connection. Forty
                // connections open at once, each held for a moment: the balancer counts open connections, so they spread.
                let result = try await a.run([
                    "sh", "-c",
                    "seq 40 | xargs -P 40 -I{} curl -sS --max-time 5 -o /dev/null -w '%header{x-served-by}\\n' "
                        + "http://10.96.0.10:5432/delay/300",
                ])
                #expect(
                    result.status == 0,
                    "\(result.output)\nproxy:\n\(proxyA.child.text.suffix(3000))\ncontroller:\n\(controller.text.suffix(2000))")
                let servedBy = result.output.split(separator: "\n")
                #expect(servedBy.count == 40, "\(result.output)")
                let first = servedBy.filter { $0 == "8080" }.count
                let second = servedBy.filter { $0 == "8081" }.count
                #expect(first + second == 40)
                #expect(first >= 10 && second >= 10, "8080: \(first), 8081: \(second)")

                let metrics = try await a.metrics()
                #expect(
                    Metrics.sum(metrics, "tcp_open_total", ["direction=\"outbound\"", "peer=\"dst\"", "target_addr=\"\(b.address):8080\""])
                        == Double(first + warmedFirst))
                #expect(
                    Metrics.sum(metrics, "tcp_open_total", ["direction=\"outbound\"", "peer=\"dst\"", "target_addr=\"10.96.0.10:5432\""])
                        == 0)
                _ = try await tap.waitForLine(containing: "END ")
                let opened = try TapServerTests.events(tap).compactMap { $0["tcp"] as? [String: Any] }
                #expect(opened.count == 2, "one connection, open and close: \(tap.text)")
                let meta = try TapServerTests.events(tap).first?["destination_meta"] as? [String: Any]
                let labels = meta?["labels"] as? [String: String] ?? [:]
                #expect(labels["service"] == "db" && labels["namespace"] != nil, "the Service's labels: \(tap.text)")
                withExtendedLifetime((servers, controller, proxyA, proxyB, tap)) {}
            } catch {
                await cleanup()
                throw error
            }
            await cleanup()
        }

        /// An application that dials a pod by its address (no Service: a headless service, a StatefulSet member) still
        /// gets mTLS: discovery knows the address as a meshed workload's and gives its identity. The server sees the
        /// client's verified identity; both proxies count the exchange as TLS.
        @Test func aPodDialledByItsAddressIsReachedOverMutualTLS() async throws {
            // The control plane runs in pod a on ports its proxy-init leaves alone, as Linkerd's skips its own.
            let (a, b, cleanup) = try await self.makePods(ignoringInboundPortsOfA: [8086, 8087])
            do {
                let directory = try E2E.temporaryDirectory()
                let ca = directory.appendingPathComponent("ca")
                let generated = try await run(ControllerProcess.binary, ["identity", "generate", "--out", ca.path])
                #expect(generated.status == 0, "\(generated.output)")
                let manifests = directory.appendingPathComponent("manifests")
                let tokens = directory.appendingPathComponent("tokens")
                for folder in [manifests, tokens.appendingPathComponent("demo")] {
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                }
                try """
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata: {name: client-0, namespace: demo}
                spec: {serviceAccount: client, address: \(a.address)}
                ---
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata: {name: server-0, namespace: demo}
                spec: {serviceAccount: server, address: \(b.address), ports: [{name: http, port: 8080}]}

                """.write(to: manifests.appendingPathComponent("pods.yaml"), atomically: true, encoding: .utf8)
                let controller = try ChildProcess(
                    E2E.which("ip")!,
                    a.exec([
                        ControllerProcess.binary, "controller", "--manifests", manifests.path, "--destination-addr", "0.0.0.0:8086",
                        "--identity-addr", "0.0.0.0:8087", "--admin-addr", "127.0.0.1:9990",
                        "--identity-trust-anchors", ca.appendingPathComponent("ca.crt").path,
                        "--identity-issuer-certificate", ca.appendingPathComponent("issuer.crt").path,
                        "--identity-issuer-key", ca.appendingPathComponent("issuer.key").path, "--identity-tokens", tokens.path,
                    ]),
                    name: "controller-in-a"
                )
                controller.stopSignal = SIGTERM
                _ = try await controller.waitForLine(containing: "swiftlet controller ready")
                let anchors = try String(contentsOf: ca.appendingPathComponent("ca.crt"), encoding: .utf8)
                func identity(_ serviceAccount: String) -> String {
                    "\(serviceAccount).demo.serviceaccount.identity.swiftlet.cluster.local"
                }
                func meshed(_ pod: Pod, _ serviceAccount: String, controller host: String) async throws -> ProxyProcess {
                    let token = UUID().uuidString
                    try token.write(to: tokens.appendingPathComponent("demo/\(serviceAccount)"), atomically: true, encoding: .utf8)
                    let tokenFile = directory.appendingPathComponent("token-\(serviceAccount)")
                    try token.write(to: tokenFile, atomically: true, encoding: .utf8)
                    let proxy = try await pod.startProxy([
                        "SWIFTLET_PROXY_DESTINATION_ADDR": "\(host):8086", "SWIFTLET_PROXY_IDENTITY_ADDR": "\(host):8087",
                        "SWIFTLET_PROXY_NAMESPACE": "demo", "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME": identity(serviceAccount),
                        "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS": anchors, "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE": tokenFile.path,
                    ])
                    _ = try await proxy.child.waitForLine(containing: "certified")
                    return proxy
                }
                let proxyA = try await meshed(a, "client", controller: "127.0.0.1")
                let proxyB = try await meshed(b, "server", controller: a.address)
                let server = try ChildProcess(
                    E2E.which("ip")!,
                    b.exec([E2E.python, "-u", E2E.fixtures.appendingPathComponent("upstream.py").path, "8080", "0.0.0.0"]),
                    name: "server-in-b"
                )
                _ = try await server.waitForLine(containing: "LISTENING")

                let response = try await a.run(["curl", "-sS", "--max-time", "10", "http://\(b.address):8080/headers"])
                #expect(response.status == 0, "\(response.output)")
                #expect(response.output.contains("swiftlet-client-id: \(identity("client"))"), "\(response.output)")
                let outbound = try await a.metrics()
                #expect(
                    Metrics.sum(
                        outbound, "response_total",
                        [
                            "direction=\"outbound\"", "tls=\"true\"", "server_id=\"\(identity("server"))\"", "dst_pod=\"server-0\"",
                            "status_code=\"200\"",
                        ]) == 1,
                    "\(outbound)"
                )
                let inbound = try await b.metrics()
                #expect(
                    Metrics.sum(
                        inbound, "response_total",
                        ["direction=\"inbound\"", "tls=\"true\"", "client_id=\"\(identity("client"))\"", "status_code=\"200\""]) == 1)
                withExtendedLifetime((controller, proxyA, proxyB, server)) {}
            } catch {
                await cleanup()
                throw error
            }
            await cleanup()
        }
    }
}
