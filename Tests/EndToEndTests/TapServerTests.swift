import Foundation
import Testing

/// The proxy's tap server, asked by a real gRPC client (grpcio, its stubs generated from our .proto at test time)
/// while real clients call through the proxy.
@Suite struct TapServerTests {
    /// `Tests/Fixtures/tap_client.py`, observing `request` (ObserveRequest as JSON).
    static func observe(_ proxy: ProxyProcess, _ request: String, extra: [String] = []) throws -> ChildProcess {
        let script = E2E.fixtures.appendingPathComponent("tap_client.py").path
        return try ChildProcess(E2E.python, ["-u", script, "127.0.0.1:\(proxy.tapPort)", request] + extra, name: "tap_client.py")
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
}
