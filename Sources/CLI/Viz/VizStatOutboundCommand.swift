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

    @OptionGroup var options: RouteViewOptions

    func validate() throws { _ = try self.options.query() }

    func execute() async throws {
        try await self.options.show({ try await RouteStatSummary.fetch($0, client: $1).rows }, table: Self.table)
    }

    /// SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 of a row, as the tables print them.
    static func figures(_ figures: RouteStatRow.Figures) -> [String] {
        [
            figures.success.map { String(format: "%.2f%%", $0 * 100) } ?? "-", figures.rps.map { String(format: "%.1frps", $0) } ?? "-",
            StatTable.latency(figures.latencyMsP50), StatTable.latency(figures.latencyMsP95), StatTable.latency(figures.latencyMsP99),
        ]
    }

    /// Linkerd's layout: a route per row, its backends under it as a tree.
    static func table(_ rows: [RouteStatRow], name: String) -> String {
        var lines = [
            [
                "NAME", "SERVICE", "ROUTE", "TYPE", "BACKEND", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TIMEOUTS",
                "RETRIES",
            ]
        ]
        let figures = Self.figures
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
