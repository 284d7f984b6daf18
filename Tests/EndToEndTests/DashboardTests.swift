import Foundation
import Testing

extension TimingSensitiveTests {
    /// The dashboard of `swiftlet demo`, in headless Chromium (Debian's): the topology renders the demo's workloads
    /// and edges with their figures and keeps redrawing without a reload, a workload's page shows its routes and
    /// backends, no script error reaches the console, and screenshots are kept (.build/test-artifacts/).
    @Suite(.serialized, .enabled(if: E2E.available("chromium", "prometheus")))
    struct DashboardTests {
        static let artifacts = E2E.packageRoot.appendingPathComponent(".build/test-artifacts")

        /// Chromium headless on `url`, its scripts run for `seconds` of virtual time: its DOM then, and its log.
        static func chromium(_ arguments: [String], seconds: Int = 16) async throws -> (output: String, log: String) {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString).log")
            defer { try? FileManager.default.removeItem(at: log) }
            let result = try await run(
                "sh",
                [
                    "-c",
                    "exec chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --enable-logging=stderr --v=0 "
                        + "--virtual-time-budget=\(seconds * 1000) \"$@\" 2>\(log.path)", "chromium",
                ] + arguments, timeout: .seconds(120))
            #expect(result.status == 0, "chromium: \(result.output)")
            return (result.output, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }

        /// The page's script messages in Chromium's log.
        static func console(_ log: String) -> [Substring] { log.split(separator: "\n").filter { $0.contains(":CONSOLE") } }

        @Test func theTopologyRendersTheDemoAndUpdatesAndAWorkloadShowsItsRoutes() async throws {
            try E2E.need("chromium", "prometheus")
            try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
            // The log catches what scripts print: a page that writes to the console is seen there.
            let probe = try await Self.chromium(["--dump-dom", "data:text/html,<script>console.error('probe-42')</script>"], seconds: 1)
            #expect(Self.console(probe.log).contains { $0.contains("probe-42") }, "console capture: \(probe.log.suffix(500))")

            let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
            defer { demo.stop() }
            let line = try await demo.waitForLine(containing: "  dashboard ", timeout: .seconds(120))
            let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init), "\(line)")
            // Until Prometheus holds two scrapes of every edge.
            var topology = ""
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                topology = try await run("curl", ["-sS", url + "api/v1/topology?namespace=emojivoto"]).output
                if topology.components(separatedBy: "\"secured\":true").count - 1 >= 4 { break }
                try await Task.sleep(for: .seconds(2))
            }

            let page = try await Self.chromium(["--dump-dom", url])
            for workload in ["web", "emoji", "voting", "voting-v2", "vote-bot"] {
                #expect(page.output.contains("data-id=\"emojivoto/\(workload)\""), "node \(workload): \(page.output.suffix(3000))")
            }
            for (source, destination) in [("vote-bot", "web"), ("web", "emoji"), ("web", "voting")] {
                let edge = "data-source=\"emojivoto/\(source)\" data-destination=\"emojivoto/\(destination)\""
                let at = try #require(page.output.range(of: edge), "edge \(source) -> \(destination): \(page.output.suffix(3000))")
                let group = page.output[at.upperBound...].prefix(600)
                #expect(group.contains("rps · ") && !group.contains("-rps"), "its label has a rate: \(group)")
            }
            #expect(page.output.contains("<g class=\"edge secured\""), "mTLS edges drawn as such")
            let refreshes = page.output.range(of: #"data-refreshes="(\d+)""#, options: .regularExpression).map {
                Int(page.output[$0].filter(\.isNumber)) ?? 0
            }
            #expect((refreshes ?? 0) >= 3, "redrawn in place every 5 s over 16 s: \(refreshes ?? 0)")
            #expect(Self.console(page.log).isEmpty, "console: \(Self.console(page.log))")

            let workload = try await Self.chromium(["--dump-dom", url + "#/workload/emojivoto/web"])
            #expect(workload.output.contains("deploy/web (emojivoto)"), "\(workload.output.suffix(2000))")
            #expect(workload.output.contains("voting-split (HTTPRoute)"), "the canary's route: \(workload.output.suffix(3000))")
            #expect(workload.output.contains("└─► voting-v2:8080"), "its backends under it: \(workload.output.suffix(3000))")
            #expect(workload.output.contains("outbound to</td><td>emojivoto/emoji"), "\(workload.output.suffix(3000))")
            #expect(Self.console(workload.log).isEmpty, "console: \(Self.console(workload.log))")

            for (name, path) in [("topology", ""), ("workload-web", "#/workload/emojivoto/web")] {
                let file = Self.artifacts.appendingPathComponent("dashboard-\(name).png")
                _ = try await Self.chromium(["--window-size=1400,1000", "--screenshot=\(file.path)", url + path])
                let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
                #expect(size > 10_000, "screenshot \(file.path): \(size) bytes")
            }
        }
    }
}
