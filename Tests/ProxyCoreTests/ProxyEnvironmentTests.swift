import MeshModel
import ProxyCore
import Testing

@Suite struct ProxyEnvironmentTests {
    @Test func defaultsMatchLinkerdsPorts() throws {
        let config = try ProxyEnvironment.parse([:])
        #expect(config.inboundListen == HostPort(host: "0.0.0.0", port: 4143))
        #expect(config.outboundListen == HostPort(host: "127.0.0.1", port: 4140))
        #expect(config.adminListen.port == 4191)
        #expect(config.opaquePorts == [25, 587, 3306, 4444, 5432, 6379, 9300, 11211])
        #expect(config.detectTimeout == .seconds(10))
    }

    @Test func everyDeclaredDefaultParses() throws {
        var environment: [String: String] = [:]
        for variable in ProxyEnvironment.variables { environment[variable.name] = variable.defaultValue }
        _ = try ProxyEnvironment.parse(environment)
    }

    @Test func parsesDurationsPortsAndStaticDestinations() throws {
        let config = try ProxyEnvironment.parse([
            "SWIFTLET_PROXY_DETECT_TIMEOUT": "250ms",
            "SWIFTLET_PROXY_CONNECT_TIMEOUT": "2",
            "SWIFTLET_PROXY_OPAQUE_PORTS": "22, 8000-8002",
            "SWIFTLET_PROXY_DESTINATIONS": "Web:8080=127.0.0.1:9001|127.0.0.1:9002, db=[::1]:5432",
            "SWIFTLET_PROXY_MODE": "transparent",
        ])
        #expect(config.detectTimeout == .milliseconds(250))
        #expect(config.connectTimeout == .seconds(2))
        #expect(config.opaquePorts == [22, 8000, 8001, 8002])
        #expect(config.mode == .transparent)
        #expect(config.staticDestinations[HostPort(host: "web", port: 8080)]?.count == 2)
        #expect(config.staticDestinations[HostPort(host: "web", port: 8080)]?.first == HostPort(host: "127.0.0.1", port: 9001))
    }

    @Test func aBadValueNamesTheVariableAndWhatWasExpected() {
        #expect {
            try ProxyEnvironment.parse(["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "0.0.0.0"])
        } throws: { error in
            let error = error as! ConfigError
            return error.variable == "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR" && error.reason.contains("ip:port")
        }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_DETECT_TIMEOUT": "soon"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_OPAQUE_PORTS": "70000"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_MODE": "magic"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_DESTINATIONS": "web:80"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_DESTINATIONS": "web:80=127.0.0.1:0"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:0"]) }
    }

    @Test func anEmptyValueIsTheDefault() throws {
        let config = try ProxyEnvironment.parse(["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "", "SWIFTLET_PROXY_DETECT_TIMEOUT": "  "])
        #expect(config.inboundListen == ProxyConfig().inboundListen)
        #expect(config.detectTimeout == ProxyConfig().detectTimeout)
        let shown = ProxyEnvironment.effectiveValues(["SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": ""])
        #expect(shown.first { $0.name == "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR" }?.value == "0.0.0.0:4143")
    }

    @Test func addressesAreValidatedWhole() throws {
        // A listener binds an address, never a name.
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_ADMIN_LISTEN_ADDR": "localhost:4191"]) }
        #expect(throws: ConfigError.self) { try ProxyEnvironment.parse(["SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR": "300.1.1.1:4140"]) }
        #expect(try ProxyEnvironment.parse(["SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR": "[::1]:4140"]).outboundListen.host == "::1")
        // A controller's address may be a name, but a well-formed one.
        for bad in ["bad host:8086", "-swiftlet:8086", "swiftlet..svc:8086", "swift_let:8086"] {
            #expect(throws: ConfigError.self, "\(bad)") { try ProxyEnvironment.parse(["SWIFTLET_PROXY_DESTINATION_ADDR": bad]) }
        }
        let named = try ProxyEnvironment.parse(["SWIFTLET_PROXY_DESTINATION_ADDR": "swiftlet-dst.swiftlet.svc.cluster.local.:8086"])
        #expect(named.destinationController?.port == 8086)
    }

    @Test func anUnknownVariableOfOursIsNamedWithTheLikelyOne() {
        let unknown = ProxyEnvironment.unknownVariables([
            "SWIFTLET_PROXY_INBUOND_FORWARD_ADDR": "x", "SWIFTLET_PROXY_LOG": "debug", "SWIFTLET_PROXY_SOMETHING_ELSE_ENTIRELY": "1",
            "PATH": "/bin",
        ])
        #expect(unknown.map(\.name) == ["SWIFTLET_PROXY_INBUOND_FORWARD_ADDR", "SWIFTLET_PROXY_SOMETHING_ELSE_ENTIRELY"])
        #expect(unknown.first?.suggestion == "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR")
        #expect(unknown.last?.suggestion == nil, "no suggestion when nothing is close")
    }

    @Test func theReferenceTableListsEveryVariable() {
        let table = ProxyEnvironment.markdownReference()
        for variable in ProxyEnvironment.variables { #expect(table.contains(variable.name)) }
    }

    @Test func hostPortParsesTheFormsAnAuthorityTakes() {
        #expect(HostPort(parsing: "web:8080") == HostPort(host: "web", port: 8080))
        #expect(HostPort(parsing: "[::1]:80") == HostPort(host: "::1", port: 80))
        #expect(HostPort(parsing: "web", defaultPort: 80) == HostPort(host: "web", port: 80))
        #expect(HostPort(parsing: "web") == nil)
        #expect(HostPort(parsing: "127.0.0.1:0") == HostPort(host: "127.0.0.1", port: 0))
        #expect(HostPort(parsing: "web:99999") == nil)
        #expect(HostPort(parsing: ":80") == nil)
        #expect(HostPort(parsing: "a:b:80") == nil)
        #expect(HostPort(host: "::1", port: 80).description == "[::1]:80")
    }
}
