import ArgumentParser
import Controller
import Foundation

/// `swiftlet viz stat-inbound`: a resource's inbound traffic per server and route (Linkerd 2.17's verb): which of
/// its ports and routes are called, how they answer and how fast, as its own proxies saw it.
struct VizStatInboundCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat-inbound",
        abstract: "Shows a resource's inbound traffic per server (port) and route: success, RPS, latency.",
        discussion: """
            Each server (a port of the workload: [default]:PORT under the default policy) and each route on it is a \
            row. SUCCESS: responses below 500 (gRPC: OK) with no proxy error. Latency is the server's: from the \
            request's arrival at the workload's proxy to the end of its response, so the network to the client is \
            not in it (stat-outbound from the client has it).
            Example: swiftlet viz stat-inbound deploy/voting -n emojivoto
            """
    )

    @OptionGroup var options: RouteViewOptions

    func validate() throws { _ = try self.options.query() }

    func execute() async throws {
        try await self.options.show({ try await InboundStatSummary.fetch($0, client: $1).rows }, table: Self.table)
    }

    /// Linkerd's layout: NAME SERVER ROUTE TYPE SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99.
    static func table(_ rows: [InboundStatRow], name: String) -> String {
        var lines = [["NAME", "SERVER", "ROUTE", "TYPE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"]]
        for row in rows {
            lines.append([name, row.server, row.route, row.type.isEmpty ? "-" : row.type] + VizStatOutboundCommand.figures(row.figures))
        }
        return StatTable.aligned(lines, left: 4)
    }
}
