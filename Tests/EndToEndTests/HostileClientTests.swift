import Foundation
import Testing

extension TimingSensitiveTests {
    /// What a client that does not play by the rules cannot do to the proxy: hold connections with a head that never
    /// ends, route with a Host that disagrees with its target, or leave the proxy's memory behind it.
    @Suite(.serialized, .enabled(if: E2E.available("curl")))
    struct HostileClientTests {
        @Test func clientsTricklingTheirHeadsAreAnswered408AndClosedWithinTheHeaderReadTimeout() async throws {
            let upstream = try await FixtureProcess.start("upstream.py")
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)", "SWIFTLET_PROXY_HTTP_HEADER_READ_TIMEOUT": "1s",
            ])
            // 1,000 connections each sending a request line, then a header byte every 200 ms: they would hold the
            // proxy for ever if it waited for the heads to end.
            let slow = try await run(
                E2E.python,
                [E2E.fixtures.appendingPathComponent("slow_clients.py").path, "trickle", "\(proxy.inboundPort)", "1000", "0.2", "15"])
            let lines = slow.output.split(separator: "\n")
            let closed = lines.first { $0.hasPrefix("CLOSED") }?.split(separator: " ")
            #expect(closed?[1] == "1000", "\(slow.output)")
            #expect((closed.flatMap { Double($0[2]) } ?? 99) < 8, "\(slow.output)")
            #expect(lines.contains { $0.hasPrefix("HTTP/1.1 408") }, "\(slow.output)")
            #expect(try await proxy.metric("inbound_http_errors_total", "error=\"header_read_timeout\"") == 1000)
            // A client that sends its head in time is served as before.
            #expect(try await run("curl", ["-sS", "http://127.0.0.1:\(proxy.inboundPort)/in-time"]).output == "ok /in-time")
        }

        @Test(.enabled(if: E2E.available("nginx")))
        func http2ClientsThatOpenNoStreamAreSentAwayWithinTheHeaderReadTimeout() async throws {
            try E2E.need("nginx")
            let nginx = try await NginxProcess.start()
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(nginx.h2Port)", "SWIFTLET_PROXY_HTTP_HEADER_READ_TIMEOUT": "1s",
            ])
            // 200 connections that send HTTP/2's preface and nothing more: detection passes them to HTTP/2, where
            // nothing else would ever bound them.
            let idle = try await run(
                E2E.python, [E2E.fixtures.appendingPathComponent("slow_clients.py").path, "preface", "\(proxy.inboundPort)", "200", "15"])
            let lines = idle.output.split(separator: "\n")
            let closed = lines.first { $0.hasPrefix("CLOSED") }?.split(separator: " ")
            #expect(closed?[1] == "200", "\(idle.output)")
            #expect((closed.flatMap { Double($0[2]) } ?? 99) < 8, "\(idle.output)")
            #expect(lines.contains("GOAWAY 200"), "every one is told why: \(idle.output)")
            // A client that opens its stream in time is served as before.
            #expect(
                try await run("curl", ["-sS", "--http2-prior-knowledge", "http://127.0.0.1:\(proxy.inboundPort)/index.html"]).output
                    == "hello from nginx\n")
        }

        @Test func anAbsoluteFormTargetIsRoutedByItsAuthorityAndTheForwardedHostAgrees() async throws {
            let other = try await FixtureProcess.start("upstream.py")
            let app = try await FixtureProcess.start("upstream.py")
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_DESTINATIONS": "other.test:80=127.0.0.1:\(other.port),app.test:80=127.0.0.1:\(app.port)"
            ])
            let answer = try await rawExchange(
                port: proxy.outboundPort, "GET http://other.test:80/headers HTTP/1.1\r\nHost: app.test:80\r\nConnection: close\r\n\r\n"
            )
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            #expect(answer.lowercased().contains("x-served-by: \(other.port)"), "\(answer)")
            // RFC 9112 §3.2.2: the target's authority wins, and the request that goes on says the same.
            #expect(answer.contains("host: other.test:80"), "\(answer)")
            #expect(!answer.contains("app.test"), "\(answer)")
            #expect(try await proxy.metric("request_total", "direction=\"outbound\"", "authority=\"other.test:80\"") == 1)
        }

        @Test func memoryComesBackAfterThousandsOfConnectionsCloseAgain() async throws {
            let upstream = try await FixtureProcess.start("upstream.py")
            // Idle connections stay idle connections for the test's length (past the detection timeout they would be
            // relayed, as opaque TCP, to the upstream: thousands of threads in the Python server).
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(upstream.port)", "SWIFTLET_PROXY_DETECT_TIMEOUT": "300s",
            ])
            #expect(try await run("curl", ["-sS", "http://127.0.0.1:\(proxy.inboundPort)/warm"]).output == "ok /warm")
            let baseline = proxy.rssMiB
            let script = E2E.fixtures.appendingPathComponent("slow_clients.py").path
            for round in 0..<2 {
                // 5,000 idle connections, and 1,000 trickling slowly, held at once, then all closed.
                let idle = try ChildProcess(E2E.python, ["-u", script, "hold", "\(proxy.inboundPort)", "5000"], name: "idle clients")
                _ = try await idle.waitForLine(containing: "HOLDING 5000")
                let slow = try await run(E2E.python, [script, "trickle", "\(proxy.inboundPort)", "1000", "0.5", "2"])
                #expect(slow.output.hasPrefix("CLOSED"), "\(slow.output)")
                try await proxy.waitForMetric("tcp_open_total", "peer=\"src\"")
                let held = proxy.rssMiB
                idle.sendLine("close")
                _ = try await idle.waitForLine(containing: "CLOSED")
                idle.closeInput()
                // The proxy lets go of what the connections held once they are gone (within its trim interval).
                var now = proxy.rssMiB
                for _ in 0..<100 where now - baseline > 6 {
                    try await Task.sleep(for: .milliseconds(100))
                    now = proxy.rssMiB
                }
                #expect(now - baseline <= 6, "round \(round): baseline \(baseline) MiB, with the connections \(held) MiB, after \(now) MiB")
            }
            #expect(try await run("curl", ["-sS", "http://127.0.0.1:\(proxy.inboundPort)/after"]).output == "ok /after")
        }
    }
}
