import ArgumentParser
import Controller
import Foundation

/// `swiftlet viz stat-outbound`: a resource's outbound traffic per route, with each route's backends as a tree
/// (Linkerd 2.17's verb): where a canary's weights send requests, and how each backend answers.
struct VizStatOutboundCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat-outbound",
        abstract: "Shows a resource's outbound traffic per Service route and per backend: success, RPS, latency, timeouts, retries.",
        discussion: """
            Each route of each Service the resource calls (its HTTPRoute or GRPCRoute, or [default]) is a row, its \
            backends under it. SUCCESS: responses below 500 (gRPC: OK) with no proxy error; TIMEOUTS: requests that ended \
            in one of the proxy's timeouts; RETRIES: retries sent, both as shares of the route's requests. A route's \
            latency is the whole request's (retries included); a backend's, each attempt's.
            Example: swiftlet viz stat-outbound deploy/web -n emojivoto (also: swiftlet viz routes deploy/web)
            """,
        aliases: ["routes"]
    )

    @Argument(help: "TYPE/NAME (or TYPE NAME): deploy/web, po/web-0, ns/shop.")
    var target: [String] = []

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The resource's namespace.")
    var namespace = "default"

    @Option(name: [.customShort("t"), .customLong("time-window")], help: "The window (e.g. 30s, 1m, 10m).")
    var timeWindow = "1m"

    @Option(name: [.customShort("o"), .customLong("output")], help: "table or json.")
    var output = "table"

    @Option(help: "The Prometheus to read (default: $SWIFTLET_PROMETHEUS_URL, else http://127.0.0.1:9090).")
    var prometheusUrl: String?

    func query() throws -> RouteStatQuery {
        let words = self.target.count == 1 ? self.target[0].split(separator: "/", maxSplits: 1).map(String.init) : self.target
        guard words.count == 2, !words[1].isEmpty else { throw ValidationError("name one resource: TYPE/NAME (deploy/web)") }
        guard let kind = StatResource(word: words[0]), kind != .service else {
            throw ValidationError("unknown resource type \"\(words[0])\": use deploy, sts, ds, job, cj, rs, rc, po or ns")
        }
        guard ["table", "json"].contains(self.output) else { throw ValidationError("-o must be table or json") }
        return RouteStatQuery(resource: kind, name: words[1], namespace: self.namespace, window: try VizStatCommand.window(self.timeWindow))
    }

    func validate() throws { _ = try self.query() }

    func execute() async throws {
        let query = try self.query()
        let client = VizStatCommand.client(self.prometheusUrl)
        let rows = try await VizOutput.reading { try await RouteStatSummary.fetch(query, client: client).rows }
        try VizOutput.print(rows, json: self.output == "json", none: "No traffic found.") { Self.table($0, name: query.name) }
    }

    /// Linkerd's layout: a route per row, its backends under it as a tree.
    static func table(_ rows: [RouteStatRow], name: String) -> String {
        var lines = [
            [
                "NAME", "SERVICE", "ROUTE", "TYPE", "BACKEND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TIMEOUTS",
                "RETRIES",
            ]
        ]
        func figures(_ figures: RouteStatRow.Figures) -> [String] {
            [
                figures.success.map { String(format: "%.2f%%", $0 * 100) } ?? "-", figures.rps.map { String(format: "%.1frps", $0) } ?? "-",
                StatTable.latency(figures.latencyMsP50), StatTable.latency(figures.latencyMsP95), StatTable.latency(figures.latencyMsP99),
            ]
        }
        func share(_ value: Double?) -> String { value.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
        for (index, row) in rows.enumerated() {
            lines.append(
                [index == 0 ? name : "", row.service, row.route, row.type.isEmpty ? "-" : row.type, ""] + figures(row.figures)
                    + [share(row.timeouts), share(row.retries)])
            for (position, backend) in row.backends.enumerated() {
                let branch = position == row.backends.count - 1 ? "└─► " : "├─► "
                lines.append(["", "", "", "", branch + backend.name + ":" + backend.port] + figures(backend.figures) + ["", ""])
            }
        }
        return StatTable.aligned(lines, left: 5)
    }
}
