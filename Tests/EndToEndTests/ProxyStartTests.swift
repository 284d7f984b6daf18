import Foundation
import NIOPosix
import Testing

/// The proxy binary as an operator meets it: its help, and what it says when it cannot start or is misconfigured.
@Suite struct ProxyStartTests {
    static let quiet = [
        "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "127.0.0.1:0", "SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:0",
        "SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "127.0.0.1:0",
        "SWIFTLET_PROXY_TAP_LISTEN_ADDR": "127.0.0.1:0",
    ]

    @Test func helpAndVersionAnswerAndExit() async throws {
        let help = try await run(E2E.proxyBinary, ["--help"])
        #expect(help.status == 0 && help.output.contains("SWIFTLET_PROXY_*") && help.output.contains("swiftlet-proxy init"), "\(help)")
        let version = try await run(E2E.proxyBinary, ["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("swiftlet-proxy "), "\(version)")
    }

    @Test func aListenerThatCannotBindIsNamedWithItsVariableAndTheReasonInWords() async throws {
        // Something already listens on the port the inbound listener is given.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let taken = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        var environment = Self.quiet
        environment["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR"] = "127.0.0.1:\(port)"
        let result = try await run(E2E.proxyBinary, [], environment: environment)
        try await taken.close()
        try await group.shutdownGracefully()
        #expect(result.status == 1, "\(result.output)")
        #expect(
            result.output.contains(
                "cannot listen on inbound 127.0.0.1:\(port) (SWIFTLET_PROXY_INBOUND_LISTEN_ADDR): address already in use"),
            "\(result.output)")
        #expect(!result.output.contains("errno"), "\(result.output)")
    }

    @Test func aMistypedVariableIsWarnedAboutAndAnEmptyOneIsItsDefault() async throws {
        var environment = Self.quiet
        environment["SWIFTLET_PROXY_INBUOND_FORWARD_ADDR"] = "127.0.0.1:1"
        environment["SWIFTLET_PROXY_LOG"] = ""
        let proxy = try ChildProcess(E2E.proxyBinary, [], environment: environment, name: "swiftlet-proxy")
        let warning = try await proxy.waitForLine(containing: "unknown variable")
        #expect(
            warning.contains("SWIFTLET_PROXY_INBUOND_FORWARD_ADDR") && warning.contains("did you mean SWIFTLET_PROXY_INBOUND_FORWARD_ADDR?")
        )
        _ = try await proxy.waitForLine(containing: "swiftlet-proxy ready")
        proxy.stop()
        _ = try await proxy.waitForExit()
        // An address that is not one is refused at start, naming the variable.
        let bad = try await run(E2E.proxyBinary, [], environment: ["SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "localhost:4191"])
        #expect(bad.status == 2 && bad.output.contains("SWIFTLET_PROXY_ADMIN_LISTEN_ADDR=localhost:4191"), "\(bad)")
    }
}
