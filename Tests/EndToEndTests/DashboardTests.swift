import Foundation
import Testing

extension TimingSensitiveTests {
    /// The dashboard of `swiftlet demo` in headless Chromium (Debian's), driven over the DevTools protocol
    /// (Tests/Fixtures/browser.py) in real time: the topology renders the demo's workloads and edges with their figures
    /// and keeps redrawing without a reload, a workload's page shows its routes and backends and live calls from tap,
    /// the tap page streams events, no console message or script error on any page, screenshots kept
    /// (.build/test-artifacts/).
    @Suite(.serialized, .enabled(if: E2E.available("chromium", "prometheus")))
    struct DashboardTests {
        static let artifacts = E2E.packageRoot.appendingPathComponent(".build/test-artifacts")

        struct Page {
            var values: [Any]
            var console: [[String: Any]]
            var until: Bool
        }

        /// `url` open for up to `wait` seconds or until `until` holds; then each of `eval`'s values.
        static func open(_ url: String, wait: Int = 30, until: String? = nil, eval: [String] = [], screenshot: String? = nil) async throws
            -> Page
        {
            var arguments = ["-u", E2E.fixtures.appendingPathComponent("browser.py").path, url, "--wait", String(wait)]
            if let until { arguments += ["--until", until] }
            for expression in eval { arguments += ["--eval", expression] }
            if let screenshot { arguments += ["--screenshot", Self.artifacts.appendingPathComponent(screenshot).path] }
            let result = try await run(E2E.python, arguments, timeout: .seconds(Double(wait + 90)))
            let object = try #require(
                try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "browser.py: \(result.output)")
            return Page(
                values: object["values"] as? [Any] ?? [], console: object["console"] as? [[String: Any]] ?? [],
                until: object["until"] as? Bool ?? false)
        }

        @Test func theTopologyRendersTheDemoUpdatesAndAWorkloadShowsItsRoutesAndLiveCalls() async throws {
            try E2E.need("chromium", "prometheus")
            try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
            // What a page prints reaches the console this test reads.
            let probe = try await Self.open("data:text/html,<script>console.error('probe-42')</script>", wait: 2)
            #expect(probe.console.contains { ($0["text"] as? String)?.contains("probe-42") == true }, "\(probe.console)")

            let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
            defer { demo.stop() }
            let line = try await demo.waitForLine(containing: "  dashboard ", timeout: .seconds(120))
            let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init), "\(line)")

            // The topology, once Prometheus holds the demo's four edges, redrawn three times in place.
            let topology = try await Self.open(
                url, wait: 90,
                until: "document.querySelectorAll('g.edge.secured').length >= 4 && Number(document.body.dataset.refreshes) >= 3",
                eval: [
                    "[...document.querySelectorAll('g.node')].map(n => n.dataset.id)",
                    "[...document.querySelectorAll('g.edge')]"
                        + ".map(e => e.dataset.source + ' > ' + e.dataset.destination + ' ' + e.textContent)",
                ], screenshot: "dashboard-topology.png")
            #expect(topology.until, "four mTLS edges and three redraws: \(topology.values)")
            let nodes = topology.values.first as? [String] ?? []
            for workload in ["web", "emoji", "voting", "voting-v2", "vote-bot"] {
                #expect(nodes.contains("emojivoto/\(workload)"), "node \(workload): \(nodes)")
            }
            let edges = topology.values.dropFirst().first as? [String] ?? []
            for (source, destination) in [("vote-bot", "web"), ("web", "emoji"), ("web", "voting")] {
                let edge = edges.first { $0.hasPrefix("emojivoto/\(source) > emojivoto/\(destination) ") }
                #expect(edge?.contains("rps · ") == true && edge?.contains("p99 ") == true, "\(source) -> \(destination): \(edges)")
            }
            #expect(topology.console.isEmpty, "console: \(topology.console)")

            // A workload: its servers, its routes with their backends, its neighbours, and its live calls as they come.
            let workload = try await Self.open(
                url + "#/workload/emojivoto/web", wait: 60,
                until: "document.querySelectorAll('#live tbody tr').length >= 3 && "
                    + "document.querySelector('#routes tbody').innerText.includes('voting-v2') && "
                    + "document.querySelector('#inbound tbody').innerText.includes('[default]:')",
                eval: [
                    "document.querySelector('#workload-title').textContent", "document.querySelector('#routes tbody').innerText",
                    "document.querySelector('#live tbody').innerText", "document.querySelector('#neighbours tbody').innerText",
                    "document.querySelector('#inbound tbody').innerText",
                ], screenshot: "dashboard-workload-web.png")
            #expect(workload.until, "\(workload.values)")
            let texts = workload.values.map { $0 as? String ?? "" }
            #expect(texts[0] == "deploy/web (emojivoto)")
            #expect(texts[1].contains("voting-split (HTTPRoute)") && texts[1].contains("└─► voting-v2:8080"), "routes: \(texts[1])")
            #expect(texts[2].contains("inbound\t← deploy/vote-bot"), "live calls from vote-bot: \(texts[2])")
            #expect(texts[2].contains("outbound\t→ deploy/emoji"), "live calls to emoji: \(texts[2])")
            #expect(texts[3].contains("outbound to\temojivoto/voting"), "neighbours: \(texts[3])")
            // vote-bot calls web's port: a default server with its default route, and a rate.
            #expect(
                texts[4].contains("[default]:") && texts[4].contains("\t[default]\t") && texts[4].contains("rps"), "inbound: \(texts[4])")
            #expect(workload.console.isEmpty, "console: \(workload.console)")

            // The tap page: a query, and its events streaming.
            let start =
                "document.body.dataset.ready && (window.started || ("
                + "document.querySelector('#tap-form [name=name]').value = 'web', "
                + "document.querySelector('#tap-form [name=namespace]').value = 'emojivoto', "
                + "document.querySelector('#tap-form [type=submit]').click(), window.started = true)) "
                + "&& document.querySelectorAll('#tap-events tbody tr').length >= 9"
            let tap = try await Self.open(
                url + "#/tap", wait: 60, until: start, eval: ["document.querySelector('#tap-events tbody').innerText"],
                screenshot: "dashboard-tap.png")
            #expect(tap.until, "\(tap.values)")
            let events = tap.values.first as? String ?? ""
            for kind in ["req\t", "rsp\t", "end\t"] { #expect(events.contains(kind), "\(kind): \(events.prefix(1000))") }
            #expect(tap.console.isEmpty, "console: \(tap.console)")
        }
    }
}
