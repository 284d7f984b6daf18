import Foundation

/// Reads every proxy's `/metrics` and renders the demo's live table, like `linkerd viz stat`: per instance (its
/// proxy's inbound side) and per edge (a proxy's outbound traffic to a workload).
actor MeshStats {
    let topology: DemoTopology
    private var previous: [String: (at: ContinuousClock.Instant, totals: TrafficTotals)] = [:]
    private var cumulative: [String: TrafficTotals] = [:]
    private var cumulativeTLS: [String: (mutual: Double, all: Double)] = [:]

    init(topology: DemoTopology) {
        self.topology = topology
    }

    private struct Scrape {
        var inbound = TrafficTotals()
        var openConnections = 0.0
        var outbound: [String: TrafficTotals] = [:]
        /// Per edge: requests that went over mTLS, and all requests (`response_total`).
        var outboundTLS: [String: (mutual: Double, all: Double)] = [:]
    }

    private func scrape(_ instance: DemoTopology.Instance) async -> Scrape? {
        let client = DemoHTTPClient(host: instance.address, port: instance.adminPort)
        guard let response = try? await client.request(.GET, authority: "\(instance.address):\(instance.adminPort)", path: "/metrics"),
            response.status == 200
        else { return nil }
        var scrape = Scrape()
        for sample in PrometheusSample.parse(response.body) {
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

    /// One refresh: the table as text.
    func refresh() async -> String {
        let now = ContinuousClock.now
        var rows: [[String]] = []
        var edges: [[String]] = []
        for instance in self.topology.instances {
            guard let scrape = await self.scrape(instance) else {
                if instance.role != .voteBot { rows.append([instance.name] + Array(repeating: "-", count: 6)) }
                continue
            }
            if instance.role != .voteBot {
                rows.append([instance.name] + self.row(key: instance.name, totals: scrape.inbound, now: now) + [String(Int(scrape.openConnections))])
            }
            for (destination, totals) in scrape.outbound.sorted(by: { $0.key < $1.key }) {
                let key = "\(instance.name) -> \(destination)"
                self.cumulative[key] = totals
                self.cumulativeTLS[key] = scrape.outboundTLS[destination]
                edges.append([instance.name, destination] + self.row(key: key, totals: totals, now: now) + [Self.tlsColumn(scrape.outboundTLS[destination])])
            }
        }
        return Self.render(
            ["NAME", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN"], rows
        ) + "\n" + Self.render(["FROM", "TO", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TLS"], edges)
    }

    /// The window since the previous refresh: success rate, requests per second and latency quantiles.
    private func row(key: String, totals: TrafficTotals, now: ContinuousClock.Instant) -> [String] {
        defer { self.previous[key] = (now, totals) }
        guard let earlier = self.previous[key] else { return ["-", "-", "-", "-", "-"] }
        let window = totals - earlier.totals
        let seconds = Double((now - earlier.at).components.attoseconds) / 1e18 + Double((now - earlier.at).components.seconds)
        let rate = window.total > 0 ? String(format: "%.2f%%", 100 * window.success / window.total) : "-"
        let rps = seconds > 0 ? String(format: "%.1f", window.total / seconds) : "-"
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

    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.prefix(widths.count).enumerated().map { i, cell in
                i == 0 || (header.count > 1 && i == 1 && header[1] == "TO") ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: max(widths[i] - cell.count, 0)) + cell
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
