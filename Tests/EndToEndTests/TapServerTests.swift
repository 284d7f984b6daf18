import Foundation
import Testing

/// The proxy's tap server, asked by a real gRPC client (grpcio, its stubs generated from our .proto at test time)
/// while real clients call through the proxy.
@Suite struct TapServerTests {
    /// `Tests/Fixtures/tap_client.py`, observing `request` (ObserveRequest as JSON).
    static func observe(_ proxy: ProxyProcess, _ request: String, host: String = "127.0.0.1", extra: [String] = []) throws -> ChildProcess {
        let script = E2E.fixtures.appendingPathComponent("tap_client.py").path
        return try ChildProcess(E2E.python, ["-u", script, "\(host):\(proxy.tapPort)", request] + extra, name: "tap_client.py")
    }

    /// An address of this host that is not loopback: a client connecting to it is, to the proxy, another host.
    static func hostAddress() async throws -> String? {
        let result = try await run("hostname", ["-I"])
        return result.output.split(separator: " ").map(String.init).first { !$0.contains(":") && !$0.hasPrefix("127.") }
    }

    static func events(_ client: ChildProcess) throws -> [[String: Any]] {
        try client.text.split(separator: "\n").filter { $0.hasPrefix("EVENT ") }.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
        }
    }

    @Test(.enabled(if: E2E.available("curl", "python3")))
    func aTapSeesTheRequestsItMatchesWithStatusLatencyAndBytesThenEnds() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        defer { proxy.stop() }
        let client = try Self.observe(proxy, #"{"limit": 2, "match": {"http": {"path": {"prefix": "/bytes/"}}}}"#)
        try await proxy.waitForMetric("tap_streams")
        for path in ["/other", "/bytes/1000", "/bytes/2500?length=1"] {
            let result = try await run(
                "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(proxy.inboundPort)\(path)"])
            #expect(result.output == "200", "\(path): \(result.output)")
        }
        _ = try await client.waitForLine(containing: "END ")
        #expect(client.text.contains("END OK"), "the stream ends once its two requests have: \(client.text)")
        let events = try Self.events(client)
        #expect(events.count == 6, "request init, response init and end for each of the two: \(client.text)")
        let http = events.compactMap { $0["http"] as? [String: Any] }
        let inits = http.compactMap { $0["request_init"] as? [String: Any] }
        #expect(inits.compactMap { $0["path"] as? String } == ["/bytes/1000", "/bytes/2500?length=1"], "/other is not tapped")
        #expect(inits.allSatisfy { ($0["method"] as? [String: Any])?["registered"] as? String == "GET" })
        #expect(http.compactMap { ($0["response_init"] as? [String: Any])?["http_status"] as? Int } == [200, 200])
        let ends = http.compactMap { $0["response_end"] as? [String: Any] }
        #expect(ends.compactMap { $0["response_bytes"] as? String } == ["1000", "2500"], "bytes counted, chunked or not")
        #expect(ends.allSatisfy { $0["since_request_init"] is String && $0["since_response_init"] is String })
        #expect(events.allSatisfy { $0["proxy_direction"] as? String == "INBOUND" })
        let source = try #require(events.first?["source"] as? [String: Any])
        #expect((source["ip"] as? [String: Any])?["ipv4"] as? Int == 0x7F00_0001, "curl's address: \(source)")
        #expect((events.first?["source_meta"] as? [String: Any]).map { "\($0)" }?.contains("no_identity") == true)
        #expect(try await proxy.metric("tap_streams") == 0, "a finished tap is forgotten")
    }

    @Test(.enabled(if: E2E.available("python3")))
    func aLimitOfZeroIsInvalidArgument() async throws {
        let proxy = try await ProxyProcess.start()
        defer { proxy.stop() }
        let client = try Self.observe(proxy, #"{"limit": 0}"#)
        let end = try await client.waitForLine(containing: "END ")
        #expect(end.contains("END INVALID_ARGUMENT limit must be more than 0"), "\(end)")
    }

    @Test(.enabled(if: E2E.available("python3")))
    func tapCanBeTurnedOff() async throws {
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_TAP_DISABLED": "true"])
        defer { proxy.stop() }
        #expect(proxy.tapPort == 0, "no tap listener")
        #expect(!(try await proxy.metrics()).contains("tap_streams"))
    }

    /// From another host, tap is the tap service's identity's alone: its certificate is let in, another workload's
    /// is answered UNAUTHENTICATED, and a plaintext client is too.
    @Test(.enabled(if: E2E.available("python3", "hostname")))
    func fromAnotherHostOnlyTheTapServiceIdentityMayTap() async throws {
        guard let host = try await Self.hostAddress() else {
            if E2E.required { Issue.record("this host has no address but loopback") }
            return
        }
        let mesh = try await MeshFixture.start()
        defer { mesh.controller.child.stop() }
        let proxy = try await mesh.proxy(
            "web", ["SWIFTLET_PROXY_TAP_LISTEN_ADDR": "0.0.0.0:0", "SWIFTLET_PROXY_TAP_SVC_NAME": MeshFixture.identity("tap")])
        defer { proxy.stop() }
        func tls(_ identity: String) throws -> [String] {
            let certificate = try mesh.leaf(identity)
            return [
                "--tls", mesh.ca.appendingPathComponent("ca.crt").path, certificate.leaf, certificate.chain, certificate.key,
                MeshFixture.identity("web"),
            ]
        }
        let intruder = try Self.observe(proxy, #"{"limit": 1}"#, host: host, extra: try tls(MeshFixture.identity("emoji")))
        let refused = try await intruder.waitForLine(containing: "END ")
        #expect(refused.hasPrefix("END UNAUTHENTICATED"), "\(intruder.text)")
        let plaintext = try Self.observe(proxy, #"{"limit": 1}"#, host: host)
        let plainEnd = try await plaintext.waitForLine(containing: "END ")
        #expect(plainEnd.hasPrefix("END UNAUTHENTICATED"), "a plaintext client from another host: \(plaintext.text)")
        #expect(try await proxy.metric("tap_streams") == 0)

        let tap = try Self.observe(proxy, #"{"limit": 1}"#, host: host, extra: try tls(MeshFixture.identity("tap")))
        defer { tap.stop() }
        try await proxy.waitForMetric("tap_streams")
    }

    /// Outbound, through discovery and a route: the destination's labels, the route and backend that served each
    /// request, gRPC's status from the trailers, and a request the proxy answered itself (an injected fault) marked
    /// as such.
    @Test(.enabled(if: E2E.available("python3")))
    func outboundEventsNameTheRouteTheBackendAndWhatTheProxyAnsweredItself() async throws {
        let mesh = try await PolicyMesh.start(
            services: ["web": ["web-a"], "echo": ["echo-a"]],
            documents: [
                "route.yaml": """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: web-route, namespace: demo}
                spec:
                  parentRefs: [{group: core, kind: Service, name: web, port: 8080}]
                  rules:
                  - matches: [{path: {type: PathPrefix, value: /fault}}]
                    filters: [{type: ExtensionRef, extensionRef: {group: policy.swiftlet.io, kind: FaultInjection, name: always}}]
                    backendRefs: [{name: web, port: 8080}]
                  - backendRefs: [{name: web, port: 8080}]
                ---
                apiVersion: policy.swiftlet.io/v1alpha1
                kind: FaultInjection
                metadata: {name: always, namespace: demo}
                spec: {abort: {percent: 100, httpStatus: 503}}

                """
            ],
            grpcWorkloads: ["echo-a"]
        )
        defer { withExtendedLifetime(mesh) {} }
        let match =
            #"{"any": {"matches": [{"http": {"path": {"prefix": "/ok"}}}, {"http": {"path": {"prefix": "/fault"}}}, "#
            + #"{"http": {"path": {"prefix": "/test.Echo/"}}}]}}"#
        let client = try Self.observe(mesh.proxy, #"{"limit": 3, "match": \#(match)}"#)
        try await mesh.proxy.waitForMetric("tap_streams")
        #expect(try await mesh.send("/ok", count: 1).ok == 1)
        #expect(try await mesh.send("/fault", count: 1).statuses["503"] == 1)
        #expect(try await mesh.call("Unary", count: 1, authority: "echo:8080").ok == 1)
        _ = try await client.waitForLine(containing: "END ")
        let events = try Self.events(client)
        #expect(events.count == 9, "\(client.text)")
        func of(_ path: String) -> [[String: Any]] {
            let id = events.first { (($0["http"] as? [String: Any])?["request_init"] as? [String: Any])?["path"] as? String == path }
                .flatMap { (($0["http"] as? [String: Any])?["request_init"] as? [String: Any])?["id"] as? [String: Any] }
            return events.filter { event in
                guard let http = event["http"] as? [String: Any], let body = http.values.first as? [String: Any] else { return false }
                return (body["id"] as? [String: Any])?["stream"] as? String == id?["stream"] as? String
            }
        }
        let ok = of("/ok")
        #expect(ok.count == 3)
        let labels = (ok.first?["destination_meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        #expect(labels["deployment"] == "web" && labels["namespace"] == "demo" && labels["pod"] == "web-a", "\(labels)")
        let route = (ok.first?["route_meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        #expect(route["route_name"] == "web-route" && route["route_kind"] == "HTTPRoute" && route["backend_name"] == "web", "\(route)")
        #expect(ok.allSatisfy { $0["proxy_direction"] as? String == "OUTBOUND" })

        let fault = of("/fault")
        let faultResponse = fault.compactMap { ($0["http"] as? [String: Any])?["response_init"] as? [String: Any] }.first
        #expect(faultResponse?["http_status"] as? Int == 503 && faultResponse?["proxy_answered"] as? String == "fault", "\(fault)")
        let faultLabels = (fault.first?["destination_meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        #expect(faultLabels["service"] == "web" && faultLabels["namespace"] == "demo", "no endpoint, still the Service: \(faultLabels)")

        let grpc = of("/test.Echo/Unary")
        let end = grpc.compactMap { ($0["http"] as? [String: Any])?["response_end"] as? [String: Any] }.first
        #expect((end?["eos"] as? [String: Any])?["grpc_status_code"] as? Int == 0, "\(grpc)")
        #expect((end?["response_bytes"] as? String).flatMap(Int.init) ?? 0 > 0, "a unary answer has a body: \(String(describing: end))")
    }

    /// A tap whose reader stops reading: the proxy drops and counts what its queue cannot hold, says so in
    /// /metrics, and neither grows nor slows the traffic it taps.
    @Test(.enabled(if: E2E.available("python3", "nginx")))
    func aReaderThatStopsReadingCostsDroppedEventsNotMemoryOrTraffic() async throws {
        // nginx: fast enough to fill a stuck reader's buffers and the proxy's queue in seconds.
        let upstream = try await NginxProcess.start()
        defer { upstream.child.stop() }
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        defer { proxy.stop() }
        let reader = try Self.observe(
            proxy, #"{"limit": 4000000000, "extract": {"http": {"headers": {}}}}"#, extra: ["--stop-reading-after", "1"])
        defer { reader.stop() }
        try await proxy.waitForMetric("tap_streams")
        let load = try LoadProcess(port: proxy.inboundPort, authority: "web:8080", path: "/", connections: 4)
        _ = try await reader.waitForLine(containing: "STOPPED")
        let before = proxy.rssMiB
        // Until the proxy has dropped events (the reader's window and the socket buffers are full, then the queue).
        var dropped = 0.0
        for _ in 0..<600 where dropped == 0 {
            dropped = try await proxy.metric("tap_events_dropped_total")
            if dropped == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(dropped > 0, "events were dropped and counted")
        // Traffic goes on while the tap stays stuck, and memory stays where it was.
        let served = try await load.waitFor("more requests after the drops") { $0.ok > 0 }.ok
        let after = try await load.waitFor("traffic still flowing", timeout: .seconds(30)) { $0.ok >= served + 2000 }
        #expect(after.failed == 0)
        #expect(proxy.rssMiB < before + 16, "RSS \(before) MiB → \(proxy.rssMiB) MiB")
        _ = try await load.finish()
        #expect(try await proxy.metric("tap_streams") == 1, "the stuck tap is still open, its queue full")
    }

    /// Opaque TCP, when asked for: the connection's open, then its close with its duration and bytes each way.
    @Test(.enabled(if: E2E.available("python3")))
    func anOpaqueConnectionIsReportedWhenTheTapAsksForTCP() async throws {
        let echo = try await FixtureProcess.start("tcp_echo.py", ["echo"])
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(echo.port)", "SWIFTLET_PROXY_OPAQUE_PORTS": "\(echo.port)",
        ])
        defer { proxy.stop() }
        let client = try Self.observe(proxy, #"{"limit": 1, "tcp": true}"#)
        try await proxy.waitForMetric("tap_streams")
        let result = try await run(
            E2E.python,
            [
                "-c",
                """
                import socket
                s = socket.create_connection(("127.0.0.1", \(proxy.inboundPort)))
                s.sendall(b"x" * 5000)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    piece = s.recv(65536)
                    if not piece: break
                    data += piece
                print("GOT", len(data))
                """,
            ])
        #expect(result.output.contains("GOT 5000"), "\(result.output)")
        _ = try await client.waitForLine(containing: "END ")
        let events = try Self.events(client).compactMap { $0["tcp"] as? [String: Any] }
        #expect(events.count == 2 && events[0]["open"] != nil, "\(client.text)")
        let close = events.last?["close"] as? [String: Any]
        #expect(close?["bytes_received"] as? String == "5000" && close?["bytes_sent"] as? String == "5000", "\(String(describing: close))")
        #expect(close?["duration"] is String)
    }

    /// TLS the proxy does not terminate is relayed as opaque: tap says so, with the hello's server name.
    @Test(.enabled(if: E2E.available("python3")))
    func relayedTLSIsReportedWithItsServerName() async throws {
        let echo = try await FixtureProcess.start("tcp_echo.py", ["echo"])
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(echo.port)"])
        defer { proxy.stop() }
        let client = try Self.observe(proxy, #"{"limit": 1, "tcp": true}"#)
        try await proxy.waitForMetric("tap_streams")
        // The echo server is no TLS server: the handshake fails, which is all this needs (a hello went through).
        _ = try await run(
            E2E.python,
            [
                "-c",
                """
                import socket, ssl
                raw = socket.create_connection(("127.0.0.1", \(proxy.inboundPort)), timeout=5)
                context = ssl.create_default_context()
                try:
                    context.wrap_socket(raw, server_hostname="billing.internal.example")
                except Exception as error:
                    print("handshake failed as expected:", type(error).__name__)
                """,
            ])
        _ = try await client.waitForLine(containing: "END ")
        let events = try Self.events(client).compactMap { $0["tcp"] as? [String: Any] }
        let open = events.first?["open"] as? [String: Any]
        #expect(open?["sni"] as? String == "billing.internal.example", "\(client.text)")
        let close = events.last?["close"] as? [String: Any]
        #expect((close?["bytes_received"] as? String).flatMap(Int.init) ?? 0 > 0, "the hello's bytes count: \(String(describing: close))")
    }
}
