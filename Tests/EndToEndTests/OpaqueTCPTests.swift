import Foundation
import Testing

/// Opaque TCP: skipped detection on opaque ports, detection timing out for server-speaks-first protocols,
/// half-close carried across.
@Suite(.serialized)
struct OpaqueTCPTests {
    @Test func anOpaquePortIsRelayedWithHalfClose() async throws {
        let echo = try await FixtureProcess.start("tcp_echo.py", ["echo"])
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(echo.port)",
            "SWIFTLET_PROXY_OPAQUE_PORTS": "\(echo.port)",
        ])
        // The echo server answers only after the client half-closes, so the FIN must cross the proxy.
        let result = try await run(
            E2E.python,
            [
                "-c",
                """
                import socket
                s = socket.create_connection(("127.0.0.1", \(proxy.inboundPort)))
                payload = bytes(range(256)) * 4096
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    piece = s.recv(65536)
                    if not piece: break
                    data += piece
                print("OK" if data == payload[::-1] else f"MISMATCH {len(data)}")
                """,
            ])
        #expect(result.output.contains("OK"), "\(result.output)")
        #expect(try await proxy.metric("tcp_read_bytes_total", "direction=\"inbound\"", "peer=\"src\"") == 1_048_576)
        #expect(try await proxy.metric("tcp_write_bytes_total", "direction=\"inbound\"", "peer=\"dst\"") == 1_048_576)
    }

    @Test func aServerThatSpeaksFirstWorksAfterTheDetectionTimeout() async throws {
        let banner = try await FixtureProcess.start("tcp_echo.py", ["banner"])
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(banner.port)",
            "SWIFTLET_PROXY_DETECT_TIMEOUT": "300ms",
        ])
        let result = try await run(
            E2E.python,
            [
                "-c",
                """
                import socket
                s = socket.create_connection(("127.0.0.1", \(proxy.inboundPort)), timeout=10)
                f = s.makefile("rb")
                print(f.readline().decode().strip())
                s.sendall(b"ping\\n")
                print(f.readline().decode().strip())
                """,
            ])
        #expect(result.output == "BANNER\nping\n", "\(result.output)")
    }

    @Test func bytesThatAreNotHTTPAreRelayedAtOnce() async throws {
        let banner = try await FixtureProcess.start("tcp_echo.py", ["banner"])
        // A 60 s detection timeout: the relay must start from the first non-HTTP byte, not the timeout.
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(banner.port)",
            "SWIFTLET_PROXY_DETECT_TIMEOUT": "60s",
        ])
        let result = try await run(
            E2E.python,
            [
                "-c",
                """
                import socket
                s = socket.create_connection(("127.0.0.1", \(proxy.inboundPort)), timeout=10)
                s.sendall(b"\\x00\\x01binary\\n")
                f = s.makefile("rb")
                print(f.readline().decode().strip())
                print(f.readline()[2:].decode().strip())
                """,
            ])
        #expect(result.output == "BANNER\nbinary\n", "\(result.output)")
    }

    @Test func aTLSClientHelloIsPassedThroughOpaquely() async throws {
        try E2E.need("openssl")
        let directory = try E2E.temporaryDirectory()
        let port = E2E.freePort()
        _ = try await run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                "-subj", "/CN=tls.test", "-keyout", directory.appendingPathComponent("key.pem").path, "-out",
                directory.appendingPathComponent("cert.pem").path,
            ])
        let server = try ChildProcess(
            E2E.which("openssl")!,
            [
                "s_server", "-accept", "127.0.0.1:\(port)", "-www",
                "-cert", directory.appendingPathComponent("cert.pem").path, "-key", directory.appendingPathComponent("key.pem").path,
            ])
        _ = try await server.waitForLine(containing: "ACCEPT")
        let proxy = try await ProxyProcess.start(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(port)"])
        let result = try await run(
            "curl", ["-sS", "-k", "--resolve", "tls.test:\(proxy.inboundPort):127.0.0.1", "https://tls.test:\(proxy.inboundPort)/"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("s_server"))
        #expect(try await proxy.metric("tcp_open_total", "direction=\"inbound\"", "peer=\"dst\"") == 1)
        #expect(try await proxy.metric("request_total") == 0)
    }
}
