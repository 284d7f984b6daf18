/// Edges from the answers to an `EdgesQuery`'s queries: pure, tested without a Prometheus.
public struct EdgesSummary: Sendable {
    public var query: EdgesQuery
    /// Outbound traffic, both sides' queries (an edge in both is counted once).
    public var outbound: [PrometheusSample] = []
    public var clients: [PrometheusSample] = []
    public var serviceAccounts: [PrometheusSample] = []

    public init(query: EdgesQuery) {
        self.query = query
    }

    public var rows: [EdgeRow] {
        let (label, destinationLabel) = (self.query.label, self.query.destinationLabel)
        struct Key: Hashable {
            var sourceNamespace, source, destinationNamespace, destination: String
        }
        var edges: [Key: EdgeRow] = [:]
        for sample in self.outbound {
            guard let sourceNamespace = sample.labels["namespace"], let source = sample.labels[label],
                let destinationNamespace = sample.labels["dst_namespace"], let destination = sample.labels[destinationLabel]
            else { continue }
            let key = Key(
                sourceNamespace: sourceNamespace, source: source, destinationNamespace: destinationNamespace, destination: destination)
            let secured = sample.labels["tls"] == "true"
            var row =
                edges[key]
                ?? EdgeRow(
                    source: source, destination: destination, sourceNamespace: sourceNamespace, destinationNamespace: destinationNamespace,
                    secured: secured)
            // One plaintext series makes the edge not secured, and says why.
            if !secured {
                row.secured = false
                row.message = sample.labels["no_tls_reason"] ?? ""
            }
            if secured, let server = sample.labels["server_id"], row.serverID.isEmpty { row.serverID = server }
            edges[key] = row
        }
        // The client's identity: one of those that called the destination, whose service account and namespace are
        // the source's (identities read `<account>.<namespace>.serviceaccount.identity.…`).
        var accounts: [String: Set<String>] = [:]
        for sample in self.serviceAccounts {
            guard let namespace = sample.labels["namespace"], let name = sample.labels[label], let account = sample.labels["serviceaccount"]
            else { continue }
            accounts["\(namespace)/\(name)", default: []].insert("\(account).\(namespace).")
        }
        for (key, var row) in edges where row.secured {
            let prefixes = accounts["\(key.sourceNamespace)/\(key.source)"] ?? []
            let called = self.clients.filter {
                $0.labels["namespace"] == key.destinationNamespace && $0.labels[label] == key.destination
            }.compactMap { $0.labels["client_id"] }
            if let client = called.sorted().first(where: { id in prefixes.contains { id.hasPrefix($0) } }) {
                row.clientID = client
                edges[key] = row
            }
        }
        return edges.values.sorted()
    }

    /// The edges of `query`, its queries asked of `client` at once.
    public static func fetch(_ query: EdgesQuery, client: PrometheusClient) async throws -> EdgesSummary {
        async let from = client.query(query.outbound(side: "namespace"))
        async let to = client.query(query.namespace == nil ? "vector(0) < 0" : query.outbound(side: "dst_namespace"))
        async let clients = client.query(query.clients)
        async let accounts = client.query(query.serviceAccounts)
        var summary = EdgesSummary(query: query)
        summary.outbound = try await from + to
        summary.clients = try await clients
        summary.serviceAccounts = try await accounts
        return summary
    }
}
