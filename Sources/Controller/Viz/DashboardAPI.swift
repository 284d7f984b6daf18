import Foundation

/// The dashboard's JSON API, which its pages read (and a script or the CLI could): every answer is computed from
/// Prometheus with the queries of the `viz` commands, so a page and a command show the same figures.
///
///     GET /api/v1/namespaces                                   ["emojivoto", …]: those with workloads
///     GET /api/v1/topology?namespace=NS&window=1m             Topology: nodes and edges (namespace: all when absent)
///     GET /api/v1/stat?kind=deploy&namespace=NS&name=N&window=1m      [StatRow], as `viz stat -o json`
///     GET /api/v1/routes?kind=deploy&namespace=NS&name=N&window=1m    [RouteStatRow], as `viz stat-outbound -o json`
///     GET /api/v1/inbound?kind=deploy&namespace=NS&name=N&window=1m   [InboundStatRow], as `viz stat-inbound -o json`
///     GET /api/v1/edges?kind=deploy&namespace=NS&window=1m            [EdgeRow], as `viz edges -o json`
///
/// A bad parameter is 400 and Prometheus failing 502, each with `{"error": "…"}`.
public struct DashboardAPI: Sendable {
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
    }

    let prometheus: PrometheusClient
    let index: ClusterIndex

    public init(prometheus: PrometheusClient, index: ClusterIndex) {
        self.prometheus = prometheus
        self.index = index
    }

    public func answer(path: String, query: [String: String]) async -> Answer {
        do {
            let window = try StatWindow.seconds(query["window"] ?? "1m")
            let namespace = query["namespace"].flatMap { $0.isEmpty ? nil : $0 }
            switch path {
            case "/api/v1/namespaces":
                return try Self.json(Set(self.index.snapshot.workloads.keys.map(\.namespace)).sorted())
            case "/api/v1/topology":
                return try Self.json(try await TopologyQuery(window: window).fetch(namespace: namespace, client: self.prometheus))
            case "/api/v1/stat":
                let query = StatQuery(resource: try Self.kind(query), name: query["name"], namespace: namespace, window: window)
                return try Self.json(try await StatSummary.fetch(query, client: self.prometheus).rows)
            case "/api/v1/routes":
                guard let name = query["name"], let namespace else { throw VizError(.invalidArgument, "routes need namespace and name") }
                let routes = RouteStatQuery(resource: try Self.kind(query), name: name, namespace: namespace, window: window)
                return try Self.json(try await RouteStatSummary.fetch(routes, client: self.prometheus).rows)
            case "/api/v1/inbound":
                guard let name = query["name"], let namespace else { throw VizError(.invalidArgument, "inbound needs namespace and name") }
                let inbound = RouteStatQuery(resource: try Self.kind(query), name: name, namespace: namespace, window: window)
                return try Self.json(try await InboundStatSummary.fetch(inbound, client: self.prometheus).rows)
            case "/api/v1/edges":
                let edges = EdgesQuery(resource: try Self.kind(query), namespace: namespace, window: window)
                return try Self.json(try await EdgesSummary.fetch(edges, client: self.prometheus).rows)
            default:
                return Answer(status: 404, body: Self.error("no such API: \(path)"))
            }
        } catch let error as VizError {
            return Answer(status: error.code == .invalidArgument ? 400 : 502, body: Self.error(error.message))
        } catch {
            return Answer(status: 500, body: Self.error("\(error)"))
        }
    }

    static func kind(_ query: [String: String]) throws(VizError) -> StatResource {
        let word = query["kind"] ?? "deployment"
        guard let kind = StatResource(word: word) else { throw VizError(.invalidArgument, "unknown kind \"\(word)\"") }
        return kind
    }

    static func json(_ value: some Encodable) throws -> Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Answer(status: 200, body: String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func error(_ message: String) -> String {
        (try? Self.json(["error": message]).body) ?? "{}"
    }
}
