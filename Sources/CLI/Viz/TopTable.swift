import Controller
import SwiftletAPI

/// `viz top`'s table: tapped requests grouped by source, destination, method and path, with their count, best,
/// worst and last latency and success rate — Linkerd's columns, sorted by count. Pure: fed events, asked for lines.
struct TopTable {
    struct Key: Hashable {
        var source: String
        var destination: String
        var method: String
        var path: String
    }

    struct Row {
        var key: Key
        var count = 0
        var successes = 0
        var best: Int64 = .max
        var worst: Int64 = 0
        var last: Int64 = 0
    }

    struct Open {
        var key: Key
        var status: UInt32 = 0
    }

    private(set) var rows: [Key: Row] = [:]
    private var open: [String: Open] = [:]
    /// Requests whose end never came are forgotten past this many.
    static let maximumOpen = 10_000

    mutating func add(_ merged: Swiftlet_Tap_V1_TapByResourceEvent) {
        guard case .http(let http) = merged.event.event else { return }
        switch http.event {
        case .requestInit(let request):
            let event = merged.event
            let key = Key(
                source: Self.display(merged.sourceResource, TapAddressText.ip(event.source.ip)),
                destination: Self.display(merged.destinationResource, TapAddressText.ip(event.destination.ip)),
                method: TapEventLine.method(request.method), path: Self.pathOnly(request.path))
            if self.open.count >= Self.maximumOpen { self.open.removeAll() }
            self.open[Self.id(merged, request.id)] = Open(key: key)
        case .responseInit(let response):
            self.open[Self.id(merged, response.id)]?.status = response.httpStatus
        case .responseEnd(let end):
            guard let open = self.open.removeValue(forKey: Self.id(merged, end.id)) else { return }
            let latency = TapEventLine.micros(end.sinceRequestInit)
            var row = self.rows[open.key] ?? Row(key: open.key)
            row.count += 1
            row.best = min(row.best, latency)
            row.worst = max(row.worst, latency)
            row.last = latency
            // Linkerd's classification: a gRPC status says it all when present; otherwise any status below 500.
            let success: Bool =
                switch end.eos.end {
                case .grpcStatusCode(let code): code == 0
                case .resetErrorCode: false
                case nil: open.status > 0 && open.status < 500
                }
            if success { row.successes += 1 }
            self.rows[open.key] = row
        case nil:
            return
        }
    }

    /// The table in `width` columns and at most `height` lines, header included.
    func lines(width: Int, height: Int) -> [String] {
        let sorted = self.rows.values.sorted {
            ($0.count, $1.key.source, $1.key.destination, $1.key.path) > ($1.count, $0.key.source, $0.key.destination, $0.key.path)
        }
        let shown = sorted.prefix(max(0, height - 1))
        let numbers = ["Count", "Best", "Worst", "Last", "Success Rate"]
        let cells: [[String]] = shown.map { row in
            [
                row.key.source, row.key.destination, row.key.method, row.key.path, String(row.count), Self.latency(row.best),
                Self.latency(row.worst), Self.latency(row.last),
                String(format2: Double(row.successes) * 100 / Double(max(1, row.count))) + "%",
            ]
        }
        let header = ["Source", "Destination", "Method", "Path"] + numbers
        var widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        // Too wide: the path gives way first, then source and destination.
        let total = { widths.reduce(0, +) + 2 * (widths.count - 1) }
        for column in [3, 0, 1] where total() > width {
            widths[column] = max(8, widths[column] - (total() - width))
        }
        func render(_ row: [String]) -> String {
            let text = row.indices.map { column in
                let cell = row[column].count > widths[column] ? String(row[column].prefix(widths[column] - 1)) + "…" : row[column]
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 4 ? pad + cell : cell + pad
            }.joined(separator: "  ")
            return String(text.prefix(width))
        }
        return [render(header)] + cells.map(render)
    }

    static func id(_ merged: Swiftlet_Tap_V1_TapByResourceEvent, _ id: Swiftlet_Tap_V1_TapEvent.Http.StreamId) -> String {
        "\(merged.proxy) \(id.base):\(id.stream)"
    }

    /// The pod's name when known (Linkerd's top shows pods), else the IP.
    static func display(_ resource: [String: String], _ ip: String) -> String {
        resource["pod"] ?? ip
    }

    static func pathOnly(_ path: String) -> String {
        path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
    }

    /// `512µs`, `12ms`, `1.5s`.
    static func latency(_ micros: Int64) -> String {
        if micros == .max { return "-" }
        if micros < 1000 { return "\(micros)µs" }
        if micros < 1_000_000 { return "\(micros / 1000)ms" }
        return String(format2: Double(micros) / 1e6) + "s"
    }
}

extension String {
    /// Two decimals, without Foundation's formatter (`99.50`).
    init(format2 value: Double) {
        let hundredths = Int64((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
