/// Rows of `viz stat` from the answers to a `StatQuery`'s queries: pure, so the arithmetic is tested without a
/// Prometheus (the end-to-end tests run it against one).
public struct StatSummary: Sendable {
    public var query: StatQuery
    public var requests: [PrometheusSample] = []
    public var p50: [PrometheusSample] = []
    public var p95: [PrometheusSample] = []
    public var p99: [PrometheusSample] = []
    public var openConnections: [PrometheusSample] = []
    public var readBytes: [PrometheusSample] = []
    public var writeBytes: [PrometheusSample] = []
    public var meshed: [PrometheusSample] = []

    public init(query: StatQuery) {
        self.query = query
    }

    struct Key: Hashable, Comparable {
        var namespace: String
        var name: String
        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name) }
    }

    private func key(_ sample: PrometheusSample, namespace: String, name: String) -> Key? {
        guard let ns = sample.labels[namespace], let resource = sample.labels[name], !resource.isEmpty else { return nil }
        return Key(namespace: ns, name: resource)
    }

    /// Every resource with pods or traffic, sorted by namespace and name.
    public var rows: [StatRow] {
        let (namespaceLabel, nameLabel) = self.query.rowLabels
        let inventoryName = self.query.resource == .namespace ? "namespace" : self.query.resource.label
        var rows: [Key: StatRow] = [:]
        func row(_ key: Key) -> StatRow {
            rows[key]
                ?? StatRow(
                    namespace: key.namespace, kind: self.query.resource.kind, name: key.name,
                    meshed: self.query.resource == .service ? "-" : "0/0")
        }
        // The inventory: meshed and total pods.
        var pods: [Key: (meshed: Int, total: Int)] = [:]
        for sample in self.meshed {
            guard let key = self.key(sample, namespace: "namespace", name: inventoryName) else { continue }
            var count = pods[key] ?? (0, 0)
            count.total += Int(sample.value)
            if sample.labels["meshed"] == "true" { count.meshed += Int(sample.value) }
            pods[key] = count
        }
        for (key, count) in pods {
            var made = row(key)
            made.meshed = "\(count.meshed)/\(count.total)"
            rows[key] = made
        }
        // Requests: total and successful, per row.
        var counts: [Key: (success: Double, total: Double)] = [:]
        for sample in self.requests {
            guard let key = self.key(sample, namespace: namespaceLabel, name: nameLabel), sample.value.isFinite else { continue }
            var count = counts[key] ?? (0, 0)
            count.total += sample.value
            if sample.labels["classification"] == "success" { count.success += sample.value }
            counts[key] = count
        }
        let seconds = Double(max(self.query.window, 1))
        for (key, count) in counts {
            var made = row(key)
            made.rps = count.total / seconds
            made.success = count.total > 0 ? count.success / count.total : nil
            rows[key] = made
        }
        func apply(_ samples: [PrometheusSample], _ set: (inout StatRow, Double) -> Void) {
            for sample in samples {
                // A quantile over no requests is NaN: no figure.
                guard let key = self.key(sample, namespace: namespaceLabel, name: nameLabel), sample.value.isFinite else { continue }
                var made = row(key)
                set(&made, sample.value)
                rows[key] = made
            }
        }
        apply(self.p50) { $0.latencyMsP50 = $1 }
        apply(self.p95) { $0.latencyMsP95 = $1 }
        apply(self.p99) { $0.latencyMsP99 = $1 }
        apply(self.openConnections) { $0.tcpOpenConnections = Int($1.rounded()) }
        apply(self.readBytes) { $0.tcpReadBytesRate = $1 / seconds }
        apply(self.writeBytes) { $0.tcpWriteBytesRate = $1 / seconds }
        return rows.keys.sorted().compactMap { rows[$0] }
    }

    /// Every figure of `query`, its queries asked of `client` at once (what `viz stat` and the dashboard show).
    public static func fetch(_ query: StatQuery, client: PrometheusClient) async throws -> StatSummary {
        async let requests = client.query(query.requests)
        async let p50 = client.query(query.latency(0.5))
        async let p95 = client.query(query.latency(0.95))
        async let p99 = client.query(query.latency(0.99))
        async let open = client.query(query.openConnections)
        async let read = client.query(query.readBytes)
        async let write = client.query(query.writeBytes)
        async let meshed = client.query(query.meshed ?? "vector(0) < 0")
        var summary = StatSummary(query: query)
        (summary.requests, summary.p50, summary.p95, summary.p99) = (try await requests, try await p50, try await p95, try await p99)
        (summary.openConnections, summary.readBytes, summary.writeBytes) = (try await open, try await read, try await write)
        summary.meshed = try await meshed
        return summary
    }
}
