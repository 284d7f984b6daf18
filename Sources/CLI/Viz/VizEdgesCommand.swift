import ArgumentParser
import Controller
import Foundation

/// `swiftlet viz edges`: which resources sent requests to which over the window, and whether over mTLS.
struct VizEdgesCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "edges",
        abstract: "Shows which resources sent requests to which, and whether the traffic was secured (mTLS).",
        discussion: """
            An edge is any traffic over the window (-t), not only the connections open now. SECURED is √ when every \
            request went over mTLS; -o wide names the identities at each end (CLIENT_ID, SERVER_ID) or why not secured.
            Examples: swiftlet viz edges deploy -n emojivoto; swiftlet viz edges po -A -o wide
            """
    )

    @Argument(help: "The kind of resource: deploy, sts, ds, job, cj, rs, rc or po.")
    var resource: String

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "Edges from or to this namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Every namespace.")
    var allNamespaces = false

    @Option(name: [.customShort("t"), .customLong("time-window")], help: "The window (e.g. 1m, 10m).")
    var timeWindow = "1m"

    @Option(name: [.customShort("o"), .customLong("output")], help: "table, wide, or json.")
    var output = "table"

    @Option(help: "The Prometheus to read (default: $SWIFTLET_PROMETHEUS_URL, else http://127.0.0.1:9090).")
    var prometheusUrl: String?

    func query() throws -> EdgesQuery {
        guard let kind = StatResource(word: self.resource), ![.namespace, .service].contains(kind) else {
            throw ValidationError("unknown resource type \"\(self.resource)\" for edges: use deploy, sts, ds, job, cj, rs, rc or po")
        }
        guard ["table", "wide", "json"].contains(self.output) else { throw ValidationError("-o must be table, wide or json") }
        return EdgesQuery(
            resource: kind, namespace: self.allNamespaces ? nil : self.namespace, window: try VizStatCommand.window(self.timeWindow))
    }

    func validate() throws { _ = try self.query() }

    func execute() async throws {
        let query = try self.query()
        let client = VizStatCommand.client(self.prometheusUrl)
        let rows = try await VizOutput.reading { try await EdgesSummary.fetch(query, client: client).rows }
        try VizOutput.print(rows, json: self.output == "json", none: "No edges found.") { Self.table($0, wide: self.output == "wide") }
    }

    /// SRC DST SRC_NS DST_NS SECURED, and with `wide` why not secured and each end's identity.
    static func table(_ rows: [EdgeRow], wide: Bool) -> String {
        var lines = [["SRC", "DST", "SRC_NS", "DST_NS", "SECURED"] + (wide ? ["MSG", "CLIENT_ID", "SERVER_ID"] : [])]
        for row in rows {
            var cells = [row.source, row.destination, row.sourceNamespace, row.destinationNamespace, row.secured ? "√" : "×"]
            if wide {
                cells += [
                    row.message.isEmpty ? "-" : row.message, row.clientID.isEmpty ? "-" : row.clientID,
                    row.serverID.isEmpty ? "-" : row.serverID,
                ]
            }
            lines.append(cells)
        }
        return StatTable.aligned(lines, left: lines[0].count)
    }
}
