import Foundation
import Testing

extension TimingSensitiveTests {
    /// `swiftlet demo` as a newcomer runs it.
    @Suite(.serialized) struct DemoTests {
        /// Processes the demo with process id `demo` started, found by the marker it puts in their environment.
        /// What `swiftlet ARGUMENTS` prints once `ready` holds of it, or after 90 s (Prometheus fills as it scrapes).
        static func output(of arguments: [String], until ready: (String) -> Bool) async throws -> String {
            var output = ""
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                output = try await run(ControllerProcess.binary, arguments).output
                if ready(output) { break }
                try await Task.sleep(for: .seconds(2))
            }
            return output
        }

        /// Whether the demo's controller runs Prometheus (it does when there is one on PATH).
        static let prometheus = E2E.which("prometheus") != nil
        /// A controller, six proxies, five services and the load generator; and Prometheus when there is one.
        static let expectedChildren = 13 + (Self.prometheus ? 1 : 0)

        static func children(of demo: Int32) -> [String] {
            let marker = "SWIFTLET_DEMO_ID=\(demo)"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.filter { Int($0) != nil }.compactMap { pid in
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
                let variables = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                guard variables.contains(marker) else { return nil }
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                    String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                }
                return "\(pid) \(command ?? "?")"
            }
        }

        /// Every edge of the application (vote-bot → web, web → emoji over gRPC, web → voting) served successful
        /// requests through the proxies, as the demo's closing totals report them.
        static func expectEveryEdgeServed(_ demo: ChildProcess) {
            let edges = demo.text.split(separator: "\n").filter { $0.hasPrefix("EDGE ") }
            for edge in ["vote-bot-0 -> web", "web-0 -> emoji", "web-0 -> voting"] {
                let line = edges.first { $0.contains(edge + " ") }
                let ok = line.flatMap { $0.split(separator: " ").first { $0.hasPrefix("ok=") } }.flatMap { Int($0.dropFirst(3)) } ?? 0
                #expect(ok > 50, "edge \(edge) served \(ok) successful requests:\n\(demo.text.suffix(2000))")
            }
            // The live table showed both voting replicas serving (the balancer spreads the load), and the canary's
            // route backends.
            #expect(demo.text.contains("voting-1"))
            #expect(demo.text.contains("voting-split"), "no route backend rows")
        }

        @Test func everyEdgeOfTheDemoServesSuccessfulRequests() async throws {
            let demo = try ChildProcess(ControllerProcess.binary, ["demo", "--duration", "20"], name: "swiftlet demo")
            let status = try await demo.waitForExit(timeout: .seconds(120))
            #expect(status == 0, "demo failed:\n\(demo.text)")
            Self.expectEveryEdgeServed(demo)
            let left = Self.children(of: demo.pid)
            #expect(left.isEmpty, "left running: \(left)")
        }

        /// `--netns`: each instance in its own network namespace behind iptables capture, the applications dialing
        /// Services by name (cluster IPs) and the transparent proxies resolving them through the controller. Afterwards
        /// no namespace, bridge or `/etc/netns` entry of the demo is left.
        @Test(.enabled(if: E2E.required || (E2E.isRoot && E2E.available("ip", "iptables", "setpriv"))))
        func theDemoRunsEachInstanceInANetworkNamespaceOfItsOwn() async throws {
            try E2E.need("ip", "iptables", "setpriv")
            guard E2E.isRoot else { throw HarnessError("--netns needs root") }
            let demo = try ChildProcess(ControllerProcess.binary, ["demo", "--netns", "--duration", "20"], name: "swiftlet demo --netns")
            let status = try await demo.waitForExit(timeout: .seconds(120))
            #expect(status == 0, "demo failed:\n\(demo.text)")
            #expect(demo.text.contains("emojivoto in network namespaces"))
            Self.expectEveryEdgeServed(demo)
            #expect(Self.children(of: demo.pid).isEmpty, "left running: \(Self.children(of: demo.pid))")
            let tag = "swl\(demo.pid)-"
            let namespaces = try await run("ip", ["netns", "list"]).output
            #expect(!namespaces.contains(tag), "namespaces left: \(namespaces)")
            let links = try await run("ip", ["-br", "link"]).output
            #expect(!links.contains("swlbr\(demo.pid) "), "bridge left: \(links)")
            let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
            #expect(!etc.contains { $0.hasPrefix(tag) }, "/etc/netns left: \(etc)")
        }

        /// The screen a newcomer sees, piped: frames after a separator and without escape codes, the header saying
        /// which proxy runs and where the files are, a manifest edit rejected (file, line) and then accepted; and the
        /// terminal closing (SIGHUP) ends every child, as Ctrl-C does.
        @Test func theHeaderTellsWhatRunsAndWhatBecameOfAnEditAndClosingTheTerminalEndsEverything() async throws {
            let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
            _ = try await demo.waitForLine(containing: "P99", timeout: .seconds(120))
            // A controller (and its Prometheus), six proxies, five services (voting-v2 among them) and the load generator.
            #expect(Self.children(of: demo.pid).count == Self.expectedChildren, "\(Self.children(of: demo.pid))")
            let metrics = try await demo.waitForLine(containing: "  metrics  ")
            #expect(
                metrics.contains(Self.prometheus ? "Prometheus http://127.0.0.1:" : "no `prometheus` on PATH"), "\(metrics)")
            let proxyLine = try await demo.waitForLine(containing: "  proxy    ")
            #expect(proxyLine.hasSuffix("/swiftlet-proxy"), "the shipped proxy, named: \(proxyLine)")
            // The tap command it prints works against it as printed.
            let tapLine = try await demo.waitForLine(containing: "swiftlet viz tap ")
            let tapCommand = try #require(tapLine.range(of: "swiftlet viz tap ").map { tapLine[$0.lowerBound...] }, "\(tapLine)")
            let tap = try ChildProcess(
                ControllerProcess.binary, tapCommand.split(separator: " ").dropFirst().map(String.init), name: "swiftlet viz tap")
            let response = try await tap.waitForLine(containing: "rsp ")
            #expect(response.contains(":status=") && response.contains("tls=true"), "\(response)")
            tap.stop()
            #expect(demo.text.contains("swiftlet viz top deploy/web -n emojivoto --tap-addr 127.0.0.1:"), "whole, on one line")
            if Self.prometheus {
                // The stat command it prints works as printed, once Prometheus has two scrapes of the load.
                // Wrapped (Prometheus on a port other than 9090, the command with --prometheus-url) on lines indented
                // under it.
                _ = try await demo.waitForLine(containing: "swiftlet viz stat ")
                let screen = demo.text.split(separator: "\n", omittingEmptySubsequences: false)
                let at = try #require(screen.firstIndex { $0.contains("swiftlet viz stat ") })
                let continued = screen[(at + 1)...].prefix { $0.hasPrefix(String(repeating: " ", count: 12)) }
                let statCommand = ([screen[at]] + continued).joined(separator: " ")
                let words = try #require(statCommand.range(of: "swiftlet viz stat ").map { statCommand[$0.upperBound...] })
                let arguments = ["viz", "stat"] + words.split(separator: " ").map(String.init)
                let table = try await Self.output(of: arguments) { table in
                    table.split(separator: "\n").contains { $0.hasPrefix("web ") && $0.contains("rps") }
                }
                let rows = table.split(separator: "\n").map { $0.split(separator: " ") }
                #expect(rows.first?.first == "NAME", "\(table)")
                #expect(rows.contains { $0.first == "web" && $0[1] == "1/1" && $0[3].hasSuffix("rps") }, "\(table)")
                #expect(rows.contains { $0.first == "voting" && $0[1] == "2/2" }, "\(table)")
                #expect(
                    rows.contains { $0.first == "vote-bot" && $0[1] == "1/1" }, "the load generator, meshed, no inbound traffic: \(table)")
                // Who talks to whom, secured, with the identities at each end (once two scrapes of each end are in).
                let pairs = [("vote-bot", "web"), ("web", "emoji"), ("web", "voting")]
                func edge(_ rows: [[Substring]], _ source: String, _ destination: String) -> Bool {
                    rows.contains {
                        $0.count == 8 && $0[0] == source && $0[1] == destination && $0[4] == "√"
                            && $0[6].hasPrefix("\(source).emojivoto.serviceaccount.")
                            && $0[7].hasPrefix("\(destination).emojivoto.serviceaccount.")
                    }
                }
                let edges = try await Self.output(of: ["viz", "edges"] + arguments.dropFirst(2) + ["-o", "wide"]) { output in
                    let rows = output.split(separator: "\n").map { $0.split(separator: " ") }
                    return pairs.allSatisfy { edge(rows, $0.0, $0.1) }
                }
                let edgeRows = edges.split(separator: "\n").map { $0.split(separator: " ") }
                #expect(edgeRows.first == ["SRC", "DST", "SRC_NS", "DST_NS", "SECURED", "MSG", "CLIENT_ID", "SERVER_ID"], "\(edges)")
                for (source, destination) in pairs { #expect(edge(edgeRows, source, destination), "\(source) -> \(destination): \(edges)") }
                // web's routes: the canary's HTTPRoute with both backends under it, emoji's default gRPC route.
                let expected: [(Substring) -> Bool] = [
                    { $0.contains("voting:8080") && $0.contains("voting-split") && $0.contains("HTTPRoute") },
                    { $0.contains("├─► voting:8080") }, { $0.contains("└─► voting-v2:8080") },
                    { $0.contains("emoji:8080") && $0.contains("[default]") },
                ]
                let outbound = try await Self.output(
                    of: ["viz", "stat-outbound", "deploy/web", "-n", "emojivoto"] + arguments.dropFirst(5)
                ) { output in expected.allSatisfy { line in output.split(separator: "\n").contains(where: line) } }
                let routeLines = outbound.split(separator: "\n")
                #expect(routeLines.first?.hasPrefix("NAME   SERVICE") == true, "\(outbound)")
                for (index, line) in expected.enumerated() { #expect(routeLines.contains(where: line), "row \(index): \(outbound)") }
                // voting's servers: its gRPC port under the default policy, its default route, with traffic.
                let inbound = try await Self.output(
                    of: ["viz", "stat-inbound", "deploy/voting", "-n", "emojivoto"] + arguments.dropFirst(5)
                ) { output in output.split(separator: "\n").contains { $0.hasPrefix("voting ") && $0.contains("rps") } }
                let serverRow = try #require(inbound.split(separator: "\n").first { $0.hasPrefix("voting ") }, "\(inbound)")
                #expect(
                    serverRow.split(separator: " ")[1].hasPrefix("[default]:") && serverRow.split(separator: " ")[2] == "[default]",
                    "\(inbound)")
            }
            let files = try await demo.waitForLine(containing: "  files    ")
            let directory = try #require(files.split(separator: " ").first { $0.hasPrefix("/") }.map { String($0.prefix { $0 != "{" }) })
            let route = directory + "manifests/route-voting.yaml"
            let good = try String(contentsOfFile: route, encoding: .utf8)
            try (good + "\n  - this is: [not, valid\n").write(toFile: route, atomically: true, encoding: .utf8)
            let rejected = try await demo.waitForLine(containing: " rejected: ")
            #expect(rejected.contains("route-voting.yaml:"), "\(rejected)")
            _ = try await demo.waitForLine(containing: "stays)")
            try good.write(toFile: route, atomically: true, encoding: .utf8)
            _ = try await demo.waitForLine(containing: "route-voting.yaml accepted")
            #expect(!demo.text.contains("\u{1B}"), "escape codes in piped output")
            #expect(demo.text.contains("--- "), "no separator between frames")

            demo.signal(SIGHUP)
            _ = try await demo.waitForExit(timeout: .seconds(30))
            let left = Self.children(of: demo.pid)
            #expect(left.isEmpty, "left running: \(left)")
            #expect(!FileManager.default.fileExists(atPath: directory), "the run's files are left after a clean stop")
        }

        /// A demo killed outright (SIGKILL: no clean-up runs) still leaves no process behind: every child, the
        /// proxies included, ends once its parent is gone.
        @Test func aDemoKilledOutrightLeavesNoProcessBehind() async throws {
            let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
            _ = try await demo.waitForLine(containing: "P99", timeout: .seconds(120))
            #expect(Self.children(of: demo.pid).count == Self.expectedChildren, "\(Self.children(of: demo.pid))")
            demo.signal(SIGKILL)
            _ = try await demo.waitForExit(timeout: .seconds(30))
            try await Self.expectChildrenGone(of: demo.pid)
        }

        /// Waits (up to 20 s) for the children of `demo` to end, polling /proc: their parent-death watchdogs act within
        /// a quarter of a second, their drains within two.
        static func expectChildrenGone(of demo: Int32, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !Self.children(of: demo).isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(Self.children(of: demo).isEmpty, "left running: \(Self.children(of: demo))", sourceLocation: sourceLocation)
        }

        /// With `--netns`, a demo killed outright leaves its namespaces and bridge (nothing can remove them from a
        /// dead process); the next demo removes them, and says so.
        @Test(.enabled(if: E2E.required || (E2E.isRoot && E2E.available("ip", "iptables", "setpriv"))))
        func theNextNetnsDemoSweepsWhatAKilledOneLeft() async throws {
            try E2E.need("ip", "iptables", "setpriv")
            guard E2E.isRoot else { throw HarnessError("--netns needs root") }
            let killed = try ChildProcess(ControllerProcess.binary, ["demo", "--netns"], name: "swiftlet demo --netns")
            _ = try await killed.waitForLine(containing: "P99", timeout: .seconds(120))
            killed.signal(SIGKILL)
            _ = try await killed.waitForExit(timeout: .seconds(30))
            try await Self.expectChildrenGone(of: killed.pid)
            #expect(try await run("ip", ["netns", "list"]).output.contains("swl\(killed.pid)-"), "the killed demo's namespaces")

            let next = try ChildProcess(ControllerProcess.binary, ["demo", "--netns", "--duration", "3"], name: "swiftlet demo --netns")
            let swept = try await next.waitForLine(containing: "of a demo that did not clean up (pid \(killed.pid))", timeout: .seconds(60))
            #expect(swept.contains("6 network namespaces and bridge swlbr\(killed.pid)"), "\(swept)")
            #expect(try await next.waitForExit(timeout: .seconds(120)) == 0, "\(next.text)")
            let namespaces = try await run("ip", ["netns", "list"]).output
            #expect(!namespaces.contains("swl\(killed.pid)-") && !namespaces.contains("swl\(next.pid)-"), "\(namespaces)")
            let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
            #expect(!etc.contains { $0.hasPrefix("swl\(killed.pid)-") }, "/etc/netns left: \(etc)")
        }

        /// With `--netns`, what crosses the wire between pods is TLS: a capture on the web pod's veth, while the demo's
        /// HTTP/1.1 and gRPC calls flow in and out of it and its proxy follows discovery, holds TLS records and no
        /// plaintext HTTP. (The proxies' admin port, which the demo's table scrapes, is left out of the capture.)
        @Test(.enabled(if: E2E.required || (E2E.isRoot && E2E.available("ip", "iptables", "setpriv", "tcpdump"))))
        func betweenPodsTheApplicationsTrafficIsOnlyMutualTLS() async throws {
            try E2E.need("ip", "iptables", "setpriv", "tcpdump")
            guard E2E.isRoot else { throw HarnessError("--netns needs root") }
            let demo = try ChildProcess(ControllerProcess.binary, ["demo", "--netns", "--duration", "25"], name: "swiftlet demo --netns")
            _ = try await demo.waitForLine(containing: "P99", timeout: .seconds(120))

            let capture = try E2E.temporaryDirectory().appendingPathComponent("web.pcap")
            let interface = "swv\(demo.pid)x0"
            let dump = try await run(
                "timeout",
                [
                    "6", E2E.which("tcpdump")!, "-i", interface, "-U", "-s", "0", "-w", capture.path, "tcp and not port 4191",
                ])
            #expect(dump.status == 124, "tcpdump: \(dump.output)")
            let payloads = try PacketCapture.tcpPayloads(capture)
            // TLS application-data records (type 23, legacy version 3.3) carried the requests.
            let records = payloads.filter { $0.count > 5 && $0[0] == 0x17 && $0[1] == 0x03 && $0[2] == 0x03 }
            #expect(records.count > 50, "only \(records.count) TLS records among \(payloads.count) payloads")
            for marker in ["HTTP/1.1", "HTTP/1.0", "PRI * HTTP/2.0", "/api/vote", "leaderboard", "content-type"] {
                let plaintext = payloads.filter { PacketCapture.contains($0, marker) }
                #expect(plaintext.isEmpty, "\(plaintext.count) payloads on the wire contain \"\(marker)\"")
            }
            let status = try await demo.waitForExit(timeout: .seconds(120))
            #expect(status == 0, "demo failed:\n\(demo.text)")
            Self.expectEveryEdgeServed(demo)
        }
    }
}
