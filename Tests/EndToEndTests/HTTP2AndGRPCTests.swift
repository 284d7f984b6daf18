import Foundation
import Testing

/// HTTP/2 (prior knowledge) and gRPC through the proxy, with h2load, curl and Python grpcio as real peers.
@Suite(.serialized)
struct HTTP2AndGRPCTests {
    @Test(.enabled(if: E2E.available("h2load", "curl", "nginx")))
    func h2loadRequestsAllSucceedThroughTheProxyToNginx() async throws {
        try E2E.need("h2load", "curl")
        let nginx = try await NginxProcess.start()
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(nginx.h2Port)"])
        let curl = try await run("curl", ["-sS", "--http2-prior-knowledge", "http://127.0.0.1:\(proxy.inboundPort)/index.html"])
        #expect(curl.output == "hello from nginx\n")
        // 4 connections, 10 concurrent streams each: streams are multiplexed both sides of the proxy.
        let load = try await run("h2load", ["-n", "2000", "-c", "4", "-m", "10", "http://127.0.0.1:\(proxy.inboundPort)/index.html"])
        #expect(load.output.contains("2000 succeeded, 0 failed, 0 errored"), "\(load.output)")
        #expect(try await proxy.metric("response_total", "direction=\"inbound\"", "status_code=\"200\"") == 2001)
        // Upstream: one HTTP/2 connection per worker thread at most, not one per stream.
        #expect(try await proxy.metric("tcp_open_total", "peer=\"dst\"") <= 2)
    }

    func startGRPC() async throws -> (FixtureProcess, ProxyProcess) {
        guard E2E.hasGRPC else { throw HarnessError("python grpcio is missing (run scripts/install-test-deps)") }
        let server = try await FixtureProcess.start("grpc_peer.py", ["server"])
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(server.port)",
            "SWIFTLET_PROXY_DESTINATIONS": "grpc.test:50051=127.0.0.1:\(server.port)",
        ])
        return (server, proxy)
    }

    func grpcClient(_ target: String, _ scenario: String) async throws -> (status: Int32, output: String) {
        try await run(E2E.python, [E2E.fixtures.appendingPathComponent("grpc_peer.py").path, "client", target, scenario])
    }

    @Test(.enabled(if: E2E.required || E2E.hasGRPC))
    func grpcUnaryAndStreamingCallsWorkInboundAndOutbound() async throws {
        let (server, proxy) = try await self.startGRPC()
        defer { withExtendedLifetime(server) {} }
        for scenario in ["unary", "server-stream", "bidi"] {
            let inbound = try await self.grpcClient("127.0.0.1:\(proxy.inboundPort)", scenario)
            #expect(inbound.status == 0, "inbound \(scenario): \(inbound.output)")
            // Outbound routes by :authority (grpc.test:50051) through the static table.
            let outbound = try await self.grpcClient("127.0.0.1:\(proxy.outboundPort)", scenario)
            #expect(outbound.status == 0, "outbound \(scenario): \(outbound.output)")
        }
        #expect(try await proxy.metric("response_total", "direction=\"inbound\"", "grpc_status=\"0\"", "classification=\"success\"") == 22)
        #expect(
            try await proxy.metric("response_total", "direction=\"outbound\"", "authority=\"grpc.test:50051\"", "grpc_status=\"0\"") == 22)
    }

    @Test(.enabled(if: E2E.required || E2E.hasGRPC))
    func grpcErrorsKeepTheirStatusAndAreCountedAsFailures() async throws {
        let (server, proxy) = try await self.startGRPC()
        defer { withExtendedLifetime(server) {} }
        let result = try await self.grpcClient("127.0.0.1:\(proxy.inboundPort)", "fail")
        #expect(result.status == 0, "\(result.output)")
        #expect(try await proxy.metric("response_total", "status_code=\"200\"", "grpc_status=\"14\"", "classification=\"failure\"") == 1)
    }
}
