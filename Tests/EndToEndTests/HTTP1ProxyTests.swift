import Foundation
import Testing

/// HTTP/1.1 through a real proxy process, with curl as the client and nginx or the Python upstream as server.
@Suite(.serialized, .enabled(if: E2E.available("curl", "nginx")))
struct HTTP1ProxyTests {
    @Test func requestsReachNginxInboundAndOutboundOverReusedConnections() async throws {
        let nginx = try await NginxProcess.start()
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(nginx.port)",
            "SWIFTLET_PROXY_DESTINATIONS": "web.test:80=127.0.0.1:\(nginx.port)",
        ])
        // One curl, five requests: curl keeps its connection alive, and so must the proxy upstream.
        let urls = (0..<5).map { _ in "http://127.0.0.1:\(proxy.inboundPort)/index.html" }
        let inbound = try await run("curl", ["-sS", "--fail"] + urls)
        #expect(inbound.status == 0)
        #expect(inbound.output == String(repeating: "hello from nginx\n", count: 5))
        let outbound = try await run(
            "curl", ["-sS", "--fail", "-H", "Host: web.test", "http://127.0.0.1:\(proxy.outboundPort)/index.html"])
        #expect(outbound.output == "hello from nginx\n")

        #expect(try await proxy.metric("request_total", "direction=\"inbound\"") == 5)
        #expect(
            try await proxy.metric(
                "response_total", "direction=\"outbound\"", "authority=\"web.test:80\"", "status_code=\"200\"", "classification=\"success\""
            ) == 1)
        #expect(try await proxy.metric("tcp_open_total", "direction=\"inbound\"", "peer=\"src\"") == 1)
        #expect(try await proxy.metric("tcp_open_total", "direction=\"inbound\"", "peer=\"dst\"") == 1)
        #expect(try await proxy.metric("response_latency_ms_count", "direction=\"inbound\"") == 5)
    }

    @Test func headResponsesCarryHeadersButNoBody() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        // Two HEADs then a GET on one connection: a stray body would corrupt the GET.
        let url = "http://127.0.0.1:\(proxy.inboundPort)"
        let head = try await run("curl", ["-sS", "-I", "\(url)/a", "-I", "\(url)/b"])
        #expect(head.status == 0)
        #expect(head.output.lowercased().contains("content-length: 1234"))
        let get = try await run("curl", ["-sS", "\(url)/after"])
        #expect(get.output == "ok /after")
    }

    @Test func hopByHopHeadersStopAtTheProxy() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let result = try await run(
            "curl",
            [
                "-sS", "-H", "Connection: keep-alive, X-Hop", "-H", "X-Hop: secret", "-H", "Keep-Alive: timeout=5",
                "-H", "Proxy-Connection: keep-alive", "-H", "X-End-To-End: kept", "http://127.0.0.1:\(proxy.inboundPort)/headers",
            ])
        #expect(result.output.contains("x-end-to-end: kept"))
        #expect(!result.output.contains("x-hop"))
        #expect(!result.output.contains("keep-alive: timeout"))
        #expect(!result.output.contains("proxy-connection"))
    }

    @Test func failuresAreAnsweredAtTheEdgeWithAReason() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let closedPort = E2E.freePort()
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)",
            "SWIFTLET_PROXY_DESTINATIONS": "refused.test:80=127.0.0.1:\(closedPort)",
            "SWIFTLET_PROXY_RESPONSE_TIMEOUT": "500ms",
        ])
        func status(_ arguments: [String]) async throws -> (code: String, error: String) {
            let result = try await run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-w", "CODE=%{http_code}"] + arguments)
            let error = result.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("swiftlet-proxy-error:") }
            return (String(result.output.split(separator: "CODE=").last ?? ""), error.map(String.init) ?? "")
        }
        let refused = try await status(["-H", "Host: refused.test", "http://127.0.0.1:\(proxy.outboundPort)/"])
        #expect(refused.code == "502")
        #expect(refused.error.contains("connection_refused"))
        let unresolvable = try await status(["-H", "Host: nowhere.invalid", "http://127.0.0.1:\(proxy.outboundPort)/"])
        #expect(unresolvable.code == "503")
        #expect(unresolvable.error.contains("unresolvable"))
        let timeout = try await status(["http://127.0.0.1:\(proxy.inboundPort)/hang"])
        #expect(timeout.code == "504")
        #expect(timeout.error.contains("response_timeout"))

        // A malformed request: 400, then the proxy closes the connection.
        let malformed = try await rawExchange(port: proxy.inboundPort, "GET / HTTP/1.1\r\nHost: x\r\nBroken Header Line\r\n\r\n")
        #expect(malformed.hasPrefix("HTTP/1.1 400"))
        #expect(malformed.hasSuffix("<closed>"))
        #expect(try await proxy.metric("outbound_http_errors_total", "connection_refused") == 1)
        #expect(try await proxy.metric("inbound_http_errors_total", "malformed_request") == 1)
        #expect(try await proxy.metric("response_total", "status_code=\"504\"", "classification=\"failure\"") == 1)
        // The proxy is still serving.
        #expect(try await run("curl", ["-sS", "http://127.0.0.1:\(proxy.inboundPort)/alive"]).output == "ok /alive")
    }

    @Test func aRequestOnAPooledConnectionTheServerDroppedIsReplayedOnce() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)", "SWIFTLET_PROXY_WORKER_THREADS": "1",
        ])
        let url = "http://127.0.0.1:\(proxy.inboundPort)"
        // The first answer leaves a pooled connection that the server will drop at the next request.
        #expect(try await run("curl", ["-sS", "\(url)/close-next"]).output == "ok /close-next")
        let replayed = try await run("curl", ["-sS", "-w", " %{http_code}", "\(url)/after"])
        #expect(replayed.output == "ok /after 200")
        #expect(try await proxy.metric("tcp_open_total", "peer=\"dst\"") == 2)

        // A request with a body may have been consumed: it is not replayed, the client learns of the failure.
        #expect(try await run("curl", ["-sS", "\(url)/close-next"]).output == "ok /close-next")
        let posted = try await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "payload", "\(url)/count"])
        #expect(posted.output == "502")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let result = try await rawExchange(
            port: proxy.inboundPort,
            "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\nConnection: "
                + "close\r\n\r\n"
        )
        let bodies = result.matches(of: /ok \/[a-z]+/).map { String($0.output) }
        #expect(bodies == ["ok /one", "ok /two", "ok /three"])
        #expect(result.hasSuffix("<closed>"))
    }

    @Test func aWebSocketIsRelayedAfterTheUpgrade() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let result = try await run(
            E2E.python, [E2E.fixtures.appendingPathComponent("ws_client.py").path, "127.0.0.1", "\(proxy.inboundPort)"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("ECHOED 3"))
        #expect(try await proxy.metric("response_total", "status_code=\"101\"") == 1)
    }

    @Test func aGigabyteStreamsBothWaysWithFlatProxyMemory() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let url = "http://127.0.0.1:\(proxy.inboundPort)"
        #expect(try await run("curl", ["-sS", "\(url)/warm"]).status == 0)
        let baseline = proxy.rssMiB
        let gib = 1 << 30

        let download = try await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download}", "\(url)/bytes/\(gib)"])
        #expect(download.output == "\(gib)")

        let file = try E2E.temporaryDirectory().appendingPathComponent("upload.bin")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: UInt64(gib))  // sparse: a gigabyte of zeros
        try handle.close()
        let upload = try await run("curl", ["-sS", "-T", file.path, "-X", "POST", "\(url)/count"])
        // sha256 of 2^30 zero bytes
        #expect(upload.output.hasPrefix("\(gib) 49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"))
        try? FileManager.default.removeItem(at: file)

        let peak = proxy.peakRSSMiB
        // Streaming keeps memory flat: the peak stays within a few buffers of the idle size, nowhere near 1 GiB.
        #expect(peak - baseline < 48, "baseline \(baseline) MiB, peak \(peak) MiB")
    }

    @Test func aSlowReaderDoesNotMakeTheProxyBuffer() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let url = "http://127.0.0.1:\(proxy.inboundPort)"
        #expect(try await run("curl", ["-sS", "\(url)/warm"]).status == 0)
        let baseline = proxy.rssMiB
        // The upstream could send 96 MiB at once; the client takes 24 MiB/s. Without back-pressure the proxy
        // would hold most of it.
        let size = 96 << 20
        let result = try await run(
            "curl", ["-sS", "--limit-rate", "24M", "-o", "/dev/null", "-w", "%{size_download}", "\(url)/bytes/\(size)?length"])
        #expect(result.output == "\(size)")
        let peak = proxy.peakRSSMiB
        #expect(peak - baseline < 24, "baseline \(baseline) MiB, peak \(peak) MiB")
    }
}
