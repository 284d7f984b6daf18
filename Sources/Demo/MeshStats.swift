import Foundation

/// Reads every proxy's `/metrics` and renders the demo's live table, like `linkerd viz stat`: per instance (its
/// proxy's inbound side) and per edge (a proxy's outbound traffic to a workload).
actor MeshStats {
    let topology: DemoTopology
    private var previous: [String: (at: ContinuousClock.Instant, totals: TrafficTotals)] = [:]
    private var cumulative: [String: TrafficTotals] = [:]
    private var cumulativeTLS: [String: (mutual: Double, all: Double)] = [:]
    /// Route counters (backend requests, failures, retries) at the previous refresh, by row.
    private var previousRoutes: [String: (at: ContinuousClock.Instant, counts: RouteCounts)] = [:]
    /// Each instance's rows from its last scrape: a scrape that fails (a loaded machine, a slow answer) shows the
    /// instance as it last was rather than a row of dashes, and its edges do not vanish.
    private var lastRows: [String: (instance: [String]?, edges: [[String]], routes: [[String]])] = [:]

    /// What one route backend (or one parent's retries) has counted.
    struct RouteCounts: Sendable {
        var requests = 0.0
        var failures = 0.0
        var responses = 0.0
        var retries = 0.0
    }

    init(topology: DemoTopology) {
        self.topology = topology
    }

    private struct Scrape {
        var inbound = TrafficTotals()
        var openConnections = 0.0
        var outbound: [String: TrafficTotals] = [:]
        /// Per edge: requests that went over mTLS, and all requests (`response_total`).
        var outboundTLS: [String: (mutual: Double, all: Double)] = [:]
        /// Per route backend (`parent route backend`), and per parent's retries.
        var routeBackends: [String: RouteCounts] = [:]
        var retries: [String: Double] = [:]
    }

    private func scrape(_ instance: DemoTopology.Instance) async -> Scrape? {
        let client = DemoHTTPClient(host: instance.address, port: instance.adminPort)
        guard let response = try? await client.request(.GET, authority: "\(instance.address):\(instance.adminPort)", path: "/metrics"),
            response.status == 200
        else { return nil }
        var scrape = Scrape()
        for sample in PrometheusSample.parse(response.body) {
            if sample.name.hasPrefix("outbound_") {
                Self.addRoute(sample, to: &scrape)
                continue
            }
            switch sample.labels["direction"] {
            case "inbound":
                if sample.name == "tcp_open_connections", sample.labels["peer"] == "src" { scrape.openConnections += sample.value }
                scrape.inbound.add(sample)
            case "outbound":
                guard sample.name == "response_total" || sample.name == "response_latency_ms_bucket" else { continue }
                let destination = sample.labels["dst_service"] ?? sample.labels["authority"] ?? "?"
                scrape.outbound[destination, default: TrafficTotals()].add(sample)
                if sample.name == "response_total" {
                    let mutual = sample.labels["tls"] == "true" ? sample.value : 0
                    let previous = scrape.outboundTLS[destination] ?? (0, 0)
                    scrape.outboundTLS[destination] = (previous.mutual + mutual, previous.all + sample.value)
                }
            default: break
            }
        }
        return scrape
    }

    /// Linkerd's route families: requests and outcomes per route backend, retries per parent Service.
    private static func addRoute(_ sample: PrometheusSample, to scrape: inout Scrape) {
        let parent = sample.labels["parent_name"] ?? "?"
        let route = sample.labels["route_kind"] == "default" ? "(default)" : sample.labels["route_name"] ?? "?"
        let row = "\(parent) \(route) \(sample.labels["backend_name"] ?? "?")"
        switch sample.name {
        case "outbound_http_route_backend_requests_total", "outbound_grpc_route_backend_requests_total":
            scrape.routeBackends[row, default: RouteCounts()].requests += sample.value
        case "outbound_http_route_backend_response_statuses_total", "outbound_grpc_route_backend_response_statuses_total":
            scrape.routeBackends[row, default: RouteCounts()].responses += sample.value
            let status = Int(sample.labels["http_status"] ?? "") ?? 0
            let grpc = Int(sample.labels["grpc_status"] ?? "") ?? 0
            if status >= 500 || grpc != 0 || !(sample.labels["error"] ?? "").isEmpty {
                scrape.routeBackends[row, default: RouteCounts()].failures += sample.value
            }
        case "outbound_http_route_retry_requests_total", "outbound_grpc_route_retry_requests_total":
            scrape.retries[parent, default: 0] += sample.value
        default: break
        }
    }

    /// One refresh: the table as text.
    func refresh() async -> String {
        let now = ContinuousClock.now
        var rows: [[String]] = []
        var edges: [[String]] = []
        var routes: [[String]] = []
        for instance in self.topology.instances {
            guard let scrape = await self.scrape(instance) else {
                if let last = self.lastRows[instance.name] {
                    if let row = last.instance { rows.append(row) }
                    edges += last.edges
                    routes += last.routes
                }
                continue
            }
            var instanceRow: [String]?
            var instanceEdges: [[String]] = []
            var instanceRoutes: [[String]] = []
            if instance.role != .voteBot {
                instanceRow =
                    [instance.name] + self.row(key: instance.name, totals: scrape.inbound, now: now) + [String(Int(scrape.openConnections))]
            }
            for (destination, totals) in scrape.outbound.sorted(by: { $0.key < $1.key }) {
                let key = "\(instance.name) -> \(destination)"
                self.cumulative[key] = totals
                self.cumulativeTLS[key] = scrape.outboundTLS[destination]
                let retries = self.rate(key: key + " retries", RouteCounts(retries: scrape.retries[destination] ?? 0), now: now) {
                    $0.retries
                }
                instanceEdges.append(
                    [instance.name, destination] + self.row(key: key, totals: totals, now: now) + [
                        retries, Self.tlsColumn(scrape.outboundTLS[destination]),
                    ]
                )
            }
            for (row, counts) in scrape.routeBackends.sorted(by: { $0.key < $1.key }) {
                let parts = row.split(separator: " ").map(String.init)
                let key = "\(instance.name) \(row)"
                let previous = self.previousRoutes[key]
                let rps = self.rate(key: key, counts, now: now) { $0.requests }
                var success = "-"
                if let previous, counts.responses > previous.counts.responses {
                    let window = counts.responses - previous.counts.responses
                    success = String(format: "%.2f%%", 100 * (window - (counts.failures - previous.counts.failures)) / window)
                }
                instanceRoutes.append([instance.name, parts[0], parts[1], parts[2], success, rps])
            }
            self.lastRows[instance.name] = (instanceRow, instanceEdges, instanceRoutes)
            if let instanceRow { rows.append(instanceRow) }
            edges += instanceEdges
            routes += instanceRoutes
        }
        // Units in the cells (%, per second, milliseconds), so the columns fit 80 characters.
        var text = Self.render(["INSTANCE", "SUCCESS", "RPS", "P50", "P95", "P99", "CONNS"], rows)
        text += "\n" + Self.render(["FROM", "TO", "SUCCESS", "RPS", "P50", "P95", "P99", "RETRIES", "TLS"], edges)
        // A row per backend of an HTTPRoute or GRPCRoute (a Service's default route is its edge above): the split's
        // shares, and what each backend answered (before retries).
        let named = routes.filter { $0[2] != "(default)" }
        if !named.isEmpty { text += "\n" + Self.render(["FROM", "SERVICE", "ROUTE", "BACKEND", "SUCCESS", "RPS"], named) }
        return text
    }

    /// Per second since the previous refresh of `key`, of the counter `value` picks.
    private func rate(key: String, _ counts: RouteCounts, now: ContinuousClock.Instant, _ value: (RouteCounts) -> Double) -> String {
        defer { self.previousRoutes[key] = (now, counts) }
        guard let previous = self.previousRoutes[key] else { return "-" }
        let elapsed = now - previous.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds > 0 else { return "-" }
        return String(format: "%.1f/s", max(value(counts) - value(previous.counts), 0) / seconds)
    }

    /// The window since the previous refresh: success rate, requests per second and latency quantiles.
    private func row(key: String, totals: TrafficTotals, now: ContinuousClock.Instant) -> [String] {
        defer { self.previous[key] = (now, totals) }
        guard let earlier = self.previous[key] else { return ["-", "-", "-", "-", "-"] }
        let window = totals - earlier.totals
        let seconds = Double((now - earlier.at).components.attoseconds) / 1e18 + Double((now - earlier.at).components.seconds)
        let rate = window.total > 0 ? String(format: "%.2f%%", 100 * window.success / window.total) : "-"
        let rps = seconds > 0 ? String(format: "%.1f/s", window.total / seconds) : "-"
        func ms(_ q: Double) -> String { window.quantile(q).map { String(format: "%.0fms", $0) } ?? "-" }
        return [rate, rps, ms(0.5), ms(0.95), ms(0.99)]
    }

    /// `mTLS` when every request of the edge went over mutual TLS, `plaintext` when none did, the share otherwise.
    static func tlsColumn(_ counts: (mutual: Double, all: Double)?) -> String {
        guard let counts, counts.all > 0 else { return "-" }
        if counts.mutual == counts.all { return "mTLS" }
        if counts.mutual == 0 { return "plaintext" }
        return String(format: "mTLS %.0f%%", 100 * counts.mutual / counts.all)
    }

    /// What each edge served in all, for the last lines of the demo (and its smoke test).
    func summary() -> String {
        var lines = ["Totals per edge:"]
        for (edge, totals) in self.cumulative.sorted(by: { $0.key < $1.key }) {
            let tls = self.cumulativeTLS[edge].map { "mtls=\(Int($0.mutual))" } ?? "mtls=0"
            lines.append("EDGE \(edge) ok=\(Int(totals.success)) failed=\(Int(totals.failure)) \(tls)")
        }
        return lines.joined(separator: "\n")
    }

    /// Columns of names, left-aligned; numbers are right-aligned.
    static let textColumns: Set<String> = ["INSTANCE", "FROM", "TO", "SERVICE", "ROUTE", "BACKEND"]

    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.prefix(widths.count).enumerated().map { i, cell in
                Self.textColumns.contains(header[i])
                    ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: max(widths[i] - cell.count, 0)) + cell
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
