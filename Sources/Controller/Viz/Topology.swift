/// The mesh as the dashboard draws it: workloads (deployments; meshed or not) as nodes, and who sent requests to whom
/// over the window as edges, each with its requests per second, success rate, p99 latency and whether it was all mTLS.
/// A figure without traffic is left out of the JSON.
public struct Topology: Sendable, Encodable, Equatable {
    public struct Node: Sendable, Encodable, Equatable {
        public var id: String
        public var namespace: String
        public var kind: String
        public var name: String
        public var meshed: String
        public var success: Double?
        public var rps: Double?
        public var latencyMsP99: Double?

        enum CodingKeys: String, CodingKey { case id, namespace, kind, name, meshed, success, rps, latencyMsP99 = "latency_ms_p99" }

    }

    public struct Edge: Sendable, Encodable, Equatable {
        public var source: String
        public var destination: String
        public var rps: Double
        public var success: Double?
        public var latencyMsP99: Double?
        public var secured: Bool

        enum CodingKeys: String, CodingKey { case source, destination, rps, success, latencyMsP99 = "latency_ms_p99", secured }

    }

    public var window: Int
    /// The namespace shown; nil: every one.
    public var namespace: String?
    public var nodes: [Node]
    public var edges: [Edge]

    static func id(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    /// From the deployments' rows and the answers to the edge queries (`TopologyQuery`), kept to those of
    /// `namespace` (a node there, or an edge with an end there, and that edge's other end).
    public init(window: Int, namespace: String?, rows: [StatRow], requests: [PrometheusSample], p99: [PrometheusSample]) {
        self.window = window
        self.namespace = namespace
        struct Key: Hashable {
            var source, destination: String
        }
        var counts: [Key: (total: Double, success: Double, secured: Bool)] = [:]
        func key(_ labels: [String: String]) -> Key? {
            guard let sourceNamespace = labels["namespace"], let source = labels["deployment"],
                let destinationNamespace = labels["dst_namespace"],
                let destination = labels["dst_deployment"]
            else { return nil }
            return Key(source: Self.id(sourceNamespace, source), destination: Self.id(destinationNamespace, destination))
        }
        for sample in requests where sample.value.isFinite && sample.value > 0 {
            guard let key = key(sample.labels) else { continue }
            var count = counts[key] ?? (0, 0, true)
            count.total += sample.value
            if sample.labels["classification"] == "success" { count.success += sample.value }
            if sample.labels["tls"] != "true" { count.secured = false }
            counts[key] = count
        }
        var latency: [Key: Double] = [:]
        for sample in p99 where sample.value.isFinite { if let key = key(sample.labels) { latency[key] = sample.value } }
        let seconds = Double(max(window, 1))
        var edges = counts.map { key, count in
            Edge(
                source: key.source, destination: key.destination, rps: count.total / seconds, success: count.success / count.total,
                latencyMsP99: latency[key], secured: count.secured)
        }
        if let namespace {
            let prefix = namespace + "/"
            edges = edges.filter { $0.source.hasPrefix(prefix) || $0.destination.hasPrefix(prefix) }
        }
        self.edges = edges.sorted { ($0.source, $0.destination) < ($1.source, $1.destination) }
        let ends = Set(self.edges.flatMap { [$0.source, $0.destination] })
        var nodes = rows.map {
            Node(
                id: Self.id($0.namespace, $0.name), namespace: $0.namespace, kind: $0.kind, name: $0.name, meshed: $0.meshed,
                success: $0.success,
                rps: $0.rps, latencyMsP99: $0.latencyMsP99)
        }
        // An edge's end that no row names (a workload the controller does not know): a node all the same.
        for end in ends where !nodes.contains(where: { $0.id == end }) {
            let parts = end.split(separator: "/", maxSplits: 1).map(String.init)
            nodes.append(Node(id: end, namespace: parts[0], kind: "deployment", name: parts.count > 1 ? parts[1] : "", meshed: "-"))
        }
        if let namespace { nodes = nodes.filter { $0.namespace == namespace || ends.contains($0.id) } }
        self.nodes = nodes.sorted { $0.id < $1.id }
    }
}
