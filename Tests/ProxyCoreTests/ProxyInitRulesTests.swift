import MeshModel
import ProxyCore
import Testing

struct ProxyInitRulesTests {
    @Test("the default rules are Linkerd proxy-init's")
    func defaults() {
        let rules = ProxyInitRules().iptablesArguments.map { $0.joined(separator: " ") }
        #expect(
            rules == [
                "-t nat -N PROXY_INIT_REDIRECT",
                "-t nat -A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191 -j RETURN",
                "-t nat -A PROXY_INIT_REDIRECT -p tcp -j REDIRECT --to-port 4143",
                "-t nat -A PREROUTING -j PROXY_INIT_REDIRECT",
                "-t nat -N PROXY_INIT_OUTPUT",
                "-t nat -A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -j RETURN",
                "-t nat -A PROXY_INIT_OUTPUT -o lo -j RETURN",
                "-t nat -A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-port 4140",
                "-t nat -A OUTPUT -j PROXY_INIT_OUTPUT",
            ])
    }

    @Test("skipped ports: ranges as iptables writes them, at most fifteen ports per multiport rule, before the redirect")
    func skippedPorts() throws {
        var rules = ProxyInitRules()
        rules.skipInboundPorts += try ProxyInitRules.ports("8000-8100, 9000")
        rules.skipOutboundPorts = try ProxyInitRules.ports((1...20).map { String(1000 + $0) }.joined(separator: ","))
        let text = rules.iptablesArguments.map { $0.joined(separator: " ") }
        #expect(text[1] == "-t nat -A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191,8000:8100,9000 -j RETURN")
        let outbound = text.filter { $0.hasPrefix("-t nat -A PROXY_INIT_OUTPUT -p tcp -m multiport") }
        #expect(outbound.count == 2)
        #expect(outbound.allSatisfy { $0.split(separator: " ")[9].split(separator: ",").count <= 15 })
        #expect(
            text.firstIndex { $0.contains("--to-port 4140") }! > text.lastIndex { $0.contains("PROXY_INIT_OUTPUT -p tcp -m multiport") }!)
    }

    @Test("bad port lists are refused with what is wrong", arguments: ["0", "70000", "90-80", "http", "1-2-3"])
    func badPorts(_ text: String) {
        #expect(throws: ConfigError.self) { try ProxyInitRules.ports(text) }
    }

    @Test func emptyListIsNoPorts() throws {
        #expect(try ProxyInitRules.ports("").isEmpty)
        #expect(try ProxyInitRules.ports(" 80 ,, 443 ") == [.init(80), .init(443)])
    }
}
