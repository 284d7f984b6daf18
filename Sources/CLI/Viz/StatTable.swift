import Controller
import Foundation

/// `viz stat`'s output: Linkerd's table (`NAME MESHED SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN`, with
/// `NAMESPACE` first for `-A` and the bytes rates for `-o wide`), or the rows as JSON.
enum StatTable {
    static func render(_ rows: [StatRow], allNamespaces: Bool, wide: Bool, qualified: Bool) -> String {
        var header = ["NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN"]
        if wide { header += ["READ_BYTES/SEC", "WRITE_BYTES/SEC"] }
        if allNamespaces { header.insert("NAMESPACE", at: 0) }
        var lines = [header]
        for row in rows {
            let name = qualified ? "\(Self.short(row.kind))/\(row.name)" : row.name
            var cells = [
                name, row.meshed, row.success.map { String(format: "%.2f%%", $0 * 100) } ?? "-",
                row.rps.map { String(format: "%.1frps", $0) } ?? "-", Self.latency(row.latencyMsP50), Self.latency(row.latencyMsP95),
                Self.latency(row.latencyMsP99), row.tcpOpenConnections.map(String.init) ?? "-",
            ]
            if wide {
                cells += [
                    row.tcpReadBytesRate.map { String(format: "%.1fB/s", $0) } ?? "-",
                    row.tcpWriteBytesRate.map { String(format: "%.1fB/s", $0) } ?? "-",
                ]
            }
            if allNamespaces { cells.insert(row.namespace, at: 0) }
            lines.append(cells)
        }
        return Self.aligned(lines, left: allNamespaces ? 2 : 1)
    }

    /// Milliseconds as Linkerd prints them (whole), with a tenth below 10 ms where a whole number would hide the figure.
    static func latency(_ value: Double?) -> String {
        guard let value else { return "-" }
        return value >= 10 ? "\(Int(value.rounded()))ms" : String(format: "%.1fms", value)
    }

    static func short(_ kind: String) -> String {
        switch kind {
        case "deployment": "deploy"
        case "statefulset": "sts"
        case "daemonset": "ds"
        case "replicaset": "rs"
        case "replicationcontroller": "rc"
        case "cronjob": "cj"
        case "namespace": "ns"
        case "service": "svc"
        case "pod": "po"
        default: kind
        }
    }

    /// The `left` first columns (the names) left-aligned, the figures right-aligned, three spaces apart (Linkerd's
    /// layout).
    static func aligned(_ lines: [[String]], left: Int) -> String {
        let columns = lines.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in lines.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return lines.map { cells in
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < left ? cell + pad : pad + cell
            }.joined(separator: "   ").trimmingSuffix(while: { $0 == " " })
        }.joined(separator: "\n") + "\n"
    }

    /// Any viz command's rows as JSON: sorted keys, indented.
    static func json(_ rows: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(rows), as: UTF8.self) + "\n"
    }
}

extension String {
    /// Without the trailing characters that satisfy `predicate` (a left-aligned last column's padding).
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var end = self.endIndex
        while end > self.startIndex, predicate(self[self.index(before: end)]) { end = self.index(before: end) }
        return String(self[..<end])
    }
}
