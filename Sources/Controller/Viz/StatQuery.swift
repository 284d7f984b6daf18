import Foundation

/// The PromQL of `swiftlet viz stat`: Linkerd's own queries (viz's metrics API), so that the numbers match theirs.
///
/// - Requests: `sum(increase(response_total{…}[W])) by (…, classification, tls)` — RPS is the increase over the
///   window's seconds; SUCCESS the share classified `success` (the proxy's classification, Linkerd's: a response is
///   a failure when its status is 5xx or its `grpc-status` is not 0, or when no response came).
/// - Latency: `histogram_quantile(q, sum(irate(response_latency_ms_bucket{…}[W])) by (le, …))` for 0.5, 0.95, 0.99.
/// - TCP: open connections now, and bytes read and written over the window.
/// - MESHED: `count(controller_pod_info{…}) by (…, meshed)`, the controller's inventory of pods (it is scraped too).
///
/// A resource is seen from its own proxies' inbound side; a Service from its clients' outbound side (a Service has
/// no proxy of its own). `--to` narrows to the resource's outbound traffic toward a destination; `--from` reports the
/// resource as seen from one source's outbound side.
public struct StatQuery: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var resource: StatResource
        public var name: String?
        public var namespace: String

        public init(resource: StatResource, name: String?, namespace: String) {
            self.resource = resource
            self.name = name
            self.namespace = namespace
        }
    }

    public var resource: StatResource
    /// One resource by name; nil: every one of the kind.
    public var name: String?
    /// nil: every namespace (`-A`).
    public var namespace: String?
    /// Seconds.
    public var window: Int
    public var to: Target?
    public var from: Target?
    /// Pod labels the series must carry (`-l app=web`), as Prometheus's relabelling names them.
    public var selector: [(name: String, value: String)] = []

    public init(resource: StatResource, name: String?, namespace: String?, window: Int, to: Target? = nil, from: Target? = nil) {
        self.resource = resource
        self.name = name
        self.namespace = namespace
        self.window = window
        self.to = to
        self.from = from
    }

    public static func == (lhs: StatQuery, rhs: StatQuery) -> Bool {
        lhs.resource == rhs.resource && lhs.name == rhs.name && lhs.namespace == rhs.namespace && lhs.window == rhs.window
            && lhs.to == rhs.to && lhs.from == rhs.from
            && lhs.selector.map { "\($0.name)=\($0.value)" } == rhs.selector.map { "\($0.name)=\($0.value)" }
    }

    /// Which side's series are read, and the labels that name the row (namespace, then resource).
    var seenFromDestination: Bool { self.resource == .service || self.from != nil }

    /// The labels a row is keyed by in the traffic queries: its namespace's and its name's.
    public var rowLabels: (namespace: String, name: String) {
        if self.seenFromDestination {
            return ("dst_namespace", self.resource == .namespace ? "dst_namespace" : self.resource.destinationLabel)
        }
        return ("namespace", self.resource.label)
    }

    var groupBy: String {
        let (namespace, name) = self.rowLabels
        return namespace == name ? namespace : "\(namespace), \(name)"
    }

    /// The matchers every traffic query shares.
    func matchers(tcp: Bool) -> String {
        var matchers: [String] = []
        func add(_ name: String, _ value: String) { matchers.append("\(name)=\"\(Self.escaped(value))\"") }
        let (namespaceLabel, nameLabel) = self.rowLabels
        if self.seenFromDestination {
            add("direction", "outbound")
            if tcp { add("peer", "dst") }
            if let from = self.from {
                add("namespace", from.namespace)
                if from.resource != .namespace, let name = from.name { add(from.resource.label, name) }
            }
        } else {
            add("direction", self.to == nil ? "inbound" : "outbound")
            if tcp { add("peer", self.to == nil ? "src" : "dst") }
            if let to = self.to {
                add("dst_namespace", to.namespace)
                if to.resource != .namespace, let name = to.name { add(to.resource.destinationLabel, name) }
            }
        }
        if let namespace = self.namespace { add(namespaceLabel, namespace) }
        if nameLabel != namespaceLabel {
            if let name = self.name { add(nameLabel, name) } else { matchers.append("\(nameLabel)!=\"\"") }
        } else if let name = self.name {
            add(namespaceLabel, name)
        }
        for (name, value) in self.selector { add(name, value) }
        return "{" + matchers.joined(separator: ", ") + "}"
    }

    var range: String { "[\(self.window)s]" }

    public var requests: String {
        "sum(increase(response_total\(self.matchers(tcp: false))\(self.range))) by (\(self.groupBy), classification, tls)"
    }

    public func latency(_ quantile: Double) -> String {
        "histogram_quantile(\(quantile), sum(irate(response_latency_ms_bucket\(self.matchers(tcp: false))\(self.range))) "
            + "by (le, \(self.groupBy)))"
    }

    public var openConnections: String { "sum(tcp_open_connections\(self.matchers(tcp: true))) by (\(self.groupBy))" }
    public var readBytes: String { "sum(increase(tcp_read_bytes_total\(self.matchers(tcp: true))\(self.range))) by (\(self.groupBy))" }
    public var writeBytes: String { "sum(increase(tcp_write_bytes_total\(self.matchers(tcp: true))\(self.range))) by (\(self.groupBy))" }

    /// The inventory: pods (and how many are meshed) per resource, from the controller's `controller_pod_info`; nil for
    /// Services, whose MESHED is `-` as in Linkerd's table.
    public var meshed: String? {
        guard self.resource != .service else { return nil }
        var matchers: [String] = []
        if let namespace = self.namespace { matchers.append("namespace=\"\(Self.escaped(namespace))\"") }
        let label = self.resource.label
        if self.resource != .namespace {
            matchers.append(self.name.map { "\(label)=\"\(Self.escaped($0))\"" } ?? "\(label)!=\"\"")
        } else if let name = self.name {
            matchers.append("namespace=\"\(Self.escaped(name))\"")
        }
        let by = self.resource == .namespace ? "namespace" : "namespace, \(label)"
        // Each controller replica exports every pod (HA runs three): one series per pod before counting.
        return "count(max(controller_pod_info{\(matchers.joined(separator: ", "))}) by (\(by), pod, meshed)) by (\(by), meshed)"
    }

    /// A label value inside PromQL double quotes.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
