import ArgumentParser
import Controller
import Foundation

/// `swiftlet viz stat`: the golden metrics of resources (success rate, requests per second, latency percentiles,
/// open connections) over a window, read from Prometheus with Linkerd's queries.
struct VizStatCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Shows the golden metrics of resources: success rate, requests per second, latency, connections.",
        discussion: """
            A resource is seen from its own proxies' inbound side: SUCCESS is the share of its responses that were not \
            failures (a failure: status 5xx, a non-zero grpc-status, or no response), RPS its requests per second over \
            the window, LATENCY_P50/P95/P99 from its proxies' latency histograms, TCP_CONN its open inbound connections. \
            A Service (svc) is seen from its clients' side, as it has no proxy of its own. MESHED counts its pods with a \
            proxy, from the controller. The figures come from Prometheus (--prometheus-url), scraped every 10 s.
            Examples: swiftlet viz stat deploy -n emojivoto; swiftlet viz stat deploy/web --to svc/voting; \
            swiftlet viz stat svc -A -o json
            """
    )

    @Argument(help: "TYPE, TYPE/NAME (several), TYPE NAME…, or all. Types: \(StatResource.accepted).")
    var resources: [String] = []

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The resources' namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Every namespace.")
    var allNamespaces = false

    @Option(name: [.customShort("t"), .customLong("time-window")], help: "The window the figures are over (e.g. 30s, 1m, 10m).")
    var timeWindow = "1m"

    @Option(help: "Only traffic from the resources to this one: TYPE/NAME (svc/voting, deploy/voting).")
    var to: String?

    @Option(help: "The --to resource's namespace (default: the resources').")
    var toNamespace: String?

    @Option(help: "Only traffic to the resources from this one: TYPE/NAME.")
    var from: String?

    @Option(help: "The --from resource's namespace (default: the resources').")
    var fromNamespace: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Only the pods with these labels (key=value,…).")
    var selector: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "table, wide (with bytes per second), or json.")
    var output = "table"

    @Option(help: "The Prometheus to read (default: $SWIFTLET_PROMETHEUS_URL, else http://127.0.0.1:9090).")
    var prometheusUrl: String?

    func validate() throws {
        guard ["table", "wide", "json"].contains(self.output) else { throw ValidationError("-o must be table, wide or json") }
        _ = try self.queries()
    }

    /// The window in seconds (`StatWindow`), a usage error when it is not one.
    static func window(_ text: String) throws -> Int {
        do throws(VizError) {
            return try StatWindow.seconds(text)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// TYPE/NAME (`--to`, `--from`).
    static func target(_ text: String, namespace: String, option: String) throws -> StatQuery.Target {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let resource = StatResource(word: parts[0]), !parts[1].isEmpty else {
            throw ValidationError("\(option) \(text): name it TYPE/NAME (svc/voting, deploy/web); types: \(StatResource.accepted)")
        }
        return .init(resource: resource, name: parts[1], namespace: namespace)
    }

    /// One query per kind asked for, each for every named resource of it (or all of it).
    func queries() throws -> [StatQuery] {
        guard !self.resources.isEmpty else { throw ValidationError("name what to show: TYPE[/NAME] or all (\(StatResource.accepted))") }
        if self.to != nil && self.from != nil { throw ValidationError("--to and --from: give one") }
        let window = try Self.window(self.timeWindow)
        var asked: [(StatResource, String?)] = []
        if self.resources == ["all"] {
            asked = StatResource.all.map { ($0, nil) }
        } else if self.resources.count >= 2, !self.resources[0].contains("/"), let kind = StatResource(word: self.resources[0]),
            self.resources.dropFirst().allSatisfy({ !$0.contains("/") && StatResource(word: $0) == nil })
        {
            asked = self.resources.dropFirst().map { (kind, $0) }  // TYPE NAME NAME…
        } else {
            for word in self.resources {
                let parts = word.split(separator: "/", maxSplits: 1).map(String.init)
                guard let kind = StatResource(word: parts[0]) else {
                    throw ValidationError("unknown resource type \"\(parts[0])\": use \(StatResource.accepted)")
                }
                if parts.count == 2, parts[1].isEmpty { throw ValidationError("\(word): a name after the /") }
                asked.append((kind, parts.count == 2 ? parts[1] : nil))
            }
        }
        let namespace = self.allNamespaces ? nil : self.namespace
        let to = try self.to.map { try Self.target($0, namespace: self.toNamespace ?? self.namespace, option: "--to") }
        let from = try self.from.map { try Self.target($0, namespace: self.fromNamespace ?? self.namespace, option: "--from") }
        var selector: [(String, String)] = []
        for pair in (self.selector ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("-l \(self.selector ?? ""): key=value,…") }
            selector.append((PrometheusTargets.sanitized(parts[0]), parts[1]))
        }
        var queries: [StatQuery] = []
        for (kind, name) in asked {
            var query = StatQuery(resource: kind, name: name, namespace: namespace, window: window, to: to, from: from)
            query.selector = selector
            queries.append(query)
        }
        return queries
    }

    /// The Prometheus a viz command reads: `--prometheus-url`, else `$SWIFTLET_PROMETHEUS_URL`, else local mode's.
    static func client(_ url: String?) -> PrometheusClient {
        PrometheusClient(base: url ?? ProcessInfo.processInfo.environment["SWIFTLET_PROMETHEUS_URL"] ?? "http://127.0.0.1:9090")
    }

    func execute() async throws {
        let queries = try self.queries()
        let client = Self.client(self.prometheusUrl)
        let rows = try await VizOutput.reading {
            var rows: [StatRow] = []
            for query in queries { rows += try await StatSummary.fetch(query, client: client).rows }
            return rows
        }
        let qualified = Set(queries.map(\.resource)).count > 1
        try VizOutput.print(rows, json: self.output == "json", none: "No traffic found.") {
            StatTable.render($0, allNamespaces: self.allNamespaces, wide: self.output == "wide", qualified: qualified)
        }
    }

}
