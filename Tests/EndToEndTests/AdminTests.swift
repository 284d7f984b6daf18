import Foundation
import Testing

/// The admin server and the proxy's lifecycle: probes, metrics a real Prometheus tool accepts, shutdown that is
/// refused from outside and drains from inside.
@Suite(.serialized, .enabled(if: E2E.available("curl")))
struct AdminTests {
    @Test func probesAndEnvironmentAnswer() async throws {
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_MODE": "explicit", "SWIFTLET_PROXY_DETECT_TIMEOUT": "7s"])
        let base = "http://127.0.0.1:\(proxy.adminPort)"
        #expect(try await run("curl", ["-sS", "-w", " %{http_code}", "\(base)/ready"]).output == "ready\n 200")
        #expect(try await run("curl", ["-sS", "-w", " %{http_code}", "\(base)/live"]).output == "live\n 200")
        let env = try await run("curl", ["-sS", "\(base)/env.json"]).output
        let json = try JSONSerialization.jsonObject(with: Data(env.utf8)) as? [String: String]
        #expect(json?["SWIFTLET_PROXY_DETECT_TIMEOUT"] == "7s")
        #expect(json?["SWIFTLET_PROXY_OPAQUE_PORTS"] == "25,587,3306,4444,5432,6379,9300,11211")
        #expect(try await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/nope"]).output == "404")
        #expect(try await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/shutdown"]).output == "405")
    }

    @Test(.enabled(if: E2E.available("promtool", "nginx")))
    func promtoolFindsNoParseErrorInTheMetrics() async throws {
        try E2E.need("promtool")
        let nginx = try await NginxProcess.start()
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(nginx.port)",
            "SWIFTLET_PROXY_DESTINATIONS": "web:80=127.0.0.1:\(nginx.port),down:80=127.0.0.1:\(E2E.freePort())",
        ])
        _ = try await run(
            "curl", ["-s", "http://127.0.0.1:\(proxy.inboundPort)/index.html", "http://127.0.0.1:\(proxy.inboundPort)/missing"])
        _ = try await run("curl", ["-s", "-H", "Host: down", "http://127.0.0.1:\(proxy.outboundPort)/"])
        let text = try await proxy.metrics()
        #expect(text.contains("process_resident_memory_bytes "))
        #expect(text.contains("process_open_fds "))
        #expect(text.contains("process_start_time_seconds "))
        #expect(text.contains("proxy_build_info{"))
        #expect(text.contains("status_code=\"404\""))
        let check = try await run("promtool", ["check", "metrics"], input: Data(text.utf8))
        // 0: clean; 3: lint findings only (Linkerd's names break promtool's naming advice). 1 would be a parse error.
        #expect(check.status == 0 || check.status == 3, "\(check.output)")
        #expect(!check.output.contains("error while linting"), "\(check.output)")
    }

    /// What a Prometheus scrape asks for, it gets: gzip, which curl undoes into the same families.
    @Test func metricsAreGzippedForAScraperThatAsks() async throws {
        let proxy = try await ProxyProcess.start()
        let url = "http://127.0.0.1:\(proxy.adminPort)/metrics"
        let headers = try await run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip", url]).output.lowercased()
        #expect(headers.contains("content-encoding: gzip") && headers.contains("vary: accept-encoding"), "\(headers)")
        let plainHeaders = try await run("curl", ["-sS", "-o", "/dev/null", "-D", "-", url]).output.lowercased()
        #expect(!plainHeaders.contains("content-encoding"), "\(plainHeaders)")
        let refused = try await run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip;q=0", url]).output
            .lowercased()
        #expect(!refused.contains("content-encoding"), "q=0 refuses gzip: \(refused)")
        let unzipped = try await run("curl", ["-sS", "--compressed", url]).output
        let families = { (text: String) in Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }) }
        #expect(families(unzipped) == families(try await proxy.metrics()), "the same families, decompressed")
        #expect(unzipped.contains("proxy_build_info{"))
    }

    @Test func shutdownIsRefusedFromOutsideTheHost() async throws {
        let address = try await run("sh", ["-c", "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1"])
        let ip = address.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !ip.isEmpty else {
            if E2E.required { Issue.record("no non-loopback IPv4 address to test from") }
            return
        }
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "0.0.0.0:0"])
        let refused = try await run(
            "curl", ["-sS", "-X", "POST", "--interface", ip, "-w", " %{http_code}", "http://\(ip):\(proxy.adminPort)/shutdown"])
        #expect(refused.output.hasSuffix(" 403"), "\(refused.output)")
        #expect(try await run("curl", ["-sS", "http://127.0.0.1:\(proxy.adminPort)/live"]).output == "live\n")
    }

    @Test func shutdownFromLoopbackDrainsInFlightRequestsThenExits() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let size = 12 << 20
        // A download that takes about two seconds, in flight while the proxy is told to stop.
        async let download = run(
            "curl",
            [
                "-sS", "--limit-rate", "6M", "-o", "/dev/null", "-w", "%{size_download}",
                "http://127.0.0.1:\(proxy.inboundPort)/bytes/\(size)?length",
            ])
        try await proxy.waitForMetric("request_total", "direction=\"inbound\"")
        let shutdown = try await run("curl", ["-sS", "-X", "POST", "http://127.0.0.1:\(proxy.adminPort)/shutdown"])
        #expect(shutdown.output == "shutdown\n")
        // New connections are no longer accepted while the download finishes.
        let late = try await run("curl", ["-sS", "--max-time", "2", "http://127.0.0.1:\(proxy.inboundPort)/late"])
        #expect(late.status != 0)
        let downloaded = try await download
        #expect(downloaded.output == "\(size)", "the whole body, though the proxy closes: \(downloaded)")
        #expect(try await proxy.child.waitForExit() == 0)
        withExtendedLifetime(upstream) {}
    }

    @Test func sigtermEndsStuckConnectionsWhenTheGracePeriodIsOver() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)",
            "SWIFTLET_PROXY_SHUTDOWN_GRACE_PERIOD": "1s",
        ])
        async let hung = run("curl", ["-sS", "--max-time", "30", "http://127.0.0.1:\(proxy.inboundPort)/hang"])
        try await proxy.waitForMetric("request_total", "direction=\"inbound\"")
        let started = ContinuousClock.now
        proxy.child.signal(SIGTERM)
        #expect(try await proxy.child.waitForExit(timeout: .seconds(10)) == 0)
        #expect(ContinuousClock.now - started < .seconds(8))
        #expect(try await hung.status != 0)
        withExtendedLifetime(upstream) {}
    }

    /// An idle HTTP/2 connection (between proxies most of all) does not hold a drain up until the grace period: the
    /// proxy closes it as soon as it has no stream, and stops.
    @Test func anIdleHTTP2ConnectionDoesNotHoldUpTheDrain() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)", "SWIFTLET_PROXY_SHUTDOWN_GRACE_PERIOD": "60s",
        ])
        let idle = try ChildProcess(
            E2E.python, ["-u", E2E.fixtures.appendingPathComponent("h2_idle.py").path, String(proxy.inboundPort), "hold"], name: "h2 client"
        )
        _ = try await idle.waitForLine(containing: "CONNECTED")
        try await proxy.waitForMetric("tcp_open_connections", "direction=\"inbound\"", "peer=\"src\"")
        proxy.child.signal(SIGTERM)
        _ = try await idle.waitForLine(containing: "CLOSED", timeout: .seconds(30))
        #expect(try await proxy.child.waitForExit(timeout: .seconds(30)) == 0)
        #expect(!proxy.child.text.contains("grace period over"), "the drain waited for the idle connection:\n\(proxy.child.text)")
        withExtendedLifetime(upstream) {}
    }

    /// An HTTP/2 client that closes its side is done: the proxy closes the connection instead of keeping it open.
    @Test func anHTTP2ClientThatHalfClosesIsDisconnected() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)"])
        let client = try ChildProcess(
            E2E.python, ["-u", E2E.fixtures.appendingPathComponent("h2_idle.py").path, String(proxy.inboundPort), "halfclose"],
            name: "h2 client")
        let outcome = try await client.waitForLine(where: { $0 == "CLOSED" || $0 == "TIMEOUT" }, describedAs: "the end")
        #expect(outcome == "CLOSED")
        withExtendedLifetime((upstream, proxy)) {}
    }
}
