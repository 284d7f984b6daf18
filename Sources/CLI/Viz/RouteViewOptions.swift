import ArgumentParser
import Controller

/// What the per-route views (`viz stat-inbound`, `viz stat-outbound`) take: one workload resource, its namespace,
/// the window, the output, and the Prometheus to read.
struct RouteViewOptions: ParsableArguments {
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

    /// The resource (`TYPE/NAME` or `TYPE NAME`; not a Service: routes are seen from the workloads' proxies) over the
    /// window, the output checked.
    func query() throws -> RouteStatQuery {
        let words = self.target.count == 1 ? self.target[0].split(separator: "/", maxSplits: 1).map(String.init) : self.target
        guard words.count == 2, !words[1].isEmpty else { throw ValidationError("name one resource: TYPE/NAME (deploy/web)") }
        guard let kind = StatResource(word: words[0]), kind != .service else {
            throw ValidationError("unknown resource type \"\(words[0])\": use deploy, sts, ds, job, cj, rs, rc, po or ns")
        }
        guard ["table", "json"].contains(self.output) else { throw ValidationError("-o must be table or json") }
        return RouteStatQuery(resource: kind, name: words[1], namespace: self.namespace, window: try VizStatCommand.window(self.timeWindow))
    }

    /// Prints the rows `read` fetches of the query: as JSON, as `table` renders them, or `No traffic found.`.
    func show<Row: Encodable & Sendable>(
        _ read: @escaping @Sendable (RouteStatQuery, PrometheusClient) async throws -> [Row], table: ([Row], String) -> String
    ) async throws {
        let query = try self.query()
        let client = VizStatCommand.client(self.prometheusUrl)
        let rows = try await VizOutput.reading { try await read(query, client) }
        try VizOutput.print(rows, json: self.output == "json", none: "No traffic found.") { table($0, query.name) }
    }
}
