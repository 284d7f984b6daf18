import Yams

/// The settings of an installed mesh: what `swiftlet install` renders the control plane from, what it keeps in
/// the ConfigMap `swiftlet-config` (so `upgrade` starts from them), and what the injector builds proxies from.
/// One struct for the three, so an installed cluster and an offline `swiftlet inject` cannot disagree.
public struct MeshValues: Hashable, Sendable {
    /// Requests and limits of one container; an empty string leaves that one out.
    public struct Resources: Hashable, Sendable {
        public var cpuRequest: String
        public var memoryRequest: String
        public var cpuLimit: String
        public var memoryLimit: String

        public init(cpuRequest: String = "", memoryRequest: String = "", cpuLimit: String = "", memoryLimit: String = "") {
            self.cpuRequest = cpuRequest
            self.memoryRequest = memoryRequest
            self.cpuLimit = cpuLimit
            self.memoryLimit = memoryLimit
        }
    }

    /// The version of the images (`swiftlet-proxy:<version>`, `swiftlet:<version>`) and of the proxies injected.
    public var version: String
    public var registry = "ghcr.io/swiftlet"
    public var imagePullPolicy = "IfNotPresent"
    public var controlPlaneNamespace = Self.defaultControlPlaneNamespace
    public var clusterDomain = "cluster.local"
    public var trustDomain = "cluster.local"
    /// Three controllers spread over nodes, a disruption budget, and a webhook that fails closed.
    public var ha = false
    public var controllerReplicas = 1
    public var controllerLogLevel = "info"
    public var controllerResources = Resources(cpuRequest: "100m", memoryRequest: "64Mi", memoryLimit: "256Mi")
    public var proxyLogLevel = "info"
    public var proxyResources = Resources(cpuRequest: "50m", memoryRequest: "20Mi", memoryLimit: "250Mi")
    /// The injector webhook's `failurePolicy`: `Ignore` lets pods start unmeshed while the controller is down;
    /// `Fail` (the HA default) refuses them.
    public var webhookFailurePolicy = "Ignore"

    /// Where install puts the control plane (and where upgrade, inject and check look for it).
    public static let defaultControlPlaneNamespace = "swiftlet"
    /// The proxy's user: fixed, because the init container's iptables rules exempt exactly this uid's traffic.
    public static let proxyUID = 2102
    /// The controller's user.
    public static let controllerUID = 2103

    public init(version: String) {
        self.version = version
    }

    public var proxyImage: String { "\(self.registry)/swiftlet-proxy:\(self.version)" }
    public var controllerImage: String { "\(self.registry)/swiftlet:\(self.version)" }

    /// Turns HA on or off with what goes with it (replicas, failure policy), before any `--set` refines them.
    public mutating func setHA(_ on: Bool) {
        self.ha = on
        self.controllerReplicas = on ? 3 : 1
        self.webhookFailurePolicy = on ? "Fail" : "Ignore"
    }
}

extension MeshValues {
    /// The keys `--set` takes, with what each means (for `--help` and for errors).
    public static let keys: [(key: String, summary: String)] = [
        ("version", "image tag of the proxy and the controller"),
        ("registry", "registry the images are pulled from"),
        ("imagePullPolicy", "Always, IfNotPresent or Never"),
        ("clusterDomain", "the cluster's DNS domain"),
        ("identity.trustDomain", "trust domain of workload identities"),
        ("ha", "true: 3 controllers, a PodDisruptionBudget, anti-affinity, webhook failurePolicy Fail"),
        ("controller.replicas", "number of controllers"),
        ("controller.logLevel", "trace, debug, info, notice, warning, error, critical"),
        ("controller.resources.cpu.request", "quantity, or empty for none"),
        ("controller.resources.cpu.limit", "quantity, or empty for none"),
        ("controller.resources.memory.request", "quantity, or empty for none"),
        ("controller.resources.memory.limit", "quantity, or empty for none"),
        ("proxy.logLevel", "trace, debug, info, notice, warning, error, critical"),
        ("proxy.resources.cpu.request", "quantity, or empty for none"),
        ("proxy.resources.cpu.limit", "quantity, or empty for none"),
        ("proxy.resources.memory.request", "quantity, or empty for none"),
        ("proxy.resources.memory.limit", "quantity, or empty for none"),
        ("webhook.failurePolicy", "Ignore or Fail"),
    ]

    /// Applies one `key=value` of `--set` (or one line of the stored values), checking the value.
    public mutating func set(_ key: String, _ value: String) throws(ValuesError) {
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        switch key {
        case "version": self.version = try Self.nonEmpty(key, value)
        case "registry": self.registry = try Self.nonEmpty(key, value)
        case "imagePullPolicy": self.imagePullPolicy = try Self.oneOf(key, value, ["Always", "IfNotPresent", "Never"])
        case "clusterDomain": self.clusterDomain = try Self.nonEmpty(key, value)
        case "identity.trustDomain": self.trustDomain = try Self.nonEmpty(key, value)
        case "ha": self.setHA(try Self.oneOf(key, value, ["true", "false"]) == "true")
        case "controller.replicas":
            guard let replicas = Int(value), (1...9).contains(replicas) else { throw ValuesError(key, value, "expected 1 to 9") }
            self.controllerReplicas = replicas
        case "controller.logLevel": self.controllerLogLevel = try Self.oneOf(key, value, levels)
        case "proxy.logLevel": self.proxyLogLevel = try Self.oneOf(key, value, levels)
        case "webhook.failurePolicy": self.webhookFailurePolicy = try Self.oneOf(key, value, ["Ignore", "Fail"])
        default:
            for (prefix, path) in [
                ("controller.resources.", \MeshValues.controllerResources), ("proxy.resources.", \MeshValues.proxyResources),
            ]
            where key.hasPrefix(prefix) {
                let quantity = try Self.quantity(key, value)
                switch key.dropFirst(prefix.count) {
                case "cpu.request": self[keyPath: path].cpuRequest = quantity
                case "cpu.limit": self[keyPath: path].cpuLimit = quantity
                case "memory.request": self[keyPath: path].memoryRequest = quantity
                case "memory.limit": self[keyPath: path].memoryLimit = quantity
                default: throw ValuesError(key, value, "unknown key; known keys: \(Self.keys.map(\.key).joined(separator: ", "))")
                }
                return
            }
            throw ValuesError(key, value, "unknown key; known keys: \(Self.keys.map(\.key).joined(separator: ", "))")
        }
    }

    /// Every key with its value, in `keys` order: what `swiftlet-config` stores and `upgrade` reads back.
    public var entries: [(key: String, value: String)] {
        [
            ("version", self.version), ("registry", self.registry), ("imagePullPolicy", self.imagePullPolicy),
            ("clusterDomain", self.clusterDomain), ("identity.trustDomain", self.trustDomain), ("ha", self.ha ? "true" : "false"),
            ("controller.replicas", String(self.controllerReplicas)), ("controller.logLevel", self.controllerLogLevel),
            ("controller.resources.cpu.request", self.controllerResources.cpuRequest),
            ("controller.resources.cpu.limit", self.controllerResources.cpuLimit),
            ("controller.resources.memory.request", self.controllerResources.memoryRequest),
            ("controller.resources.memory.limit", self.controllerResources.memoryLimit),
            ("proxy.logLevel", self.proxyLogLevel),
            ("proxy.resources.cpu.request", self.proxyResources.cpuRequest),
            ("proxy.resources.cpu.limit", self.proxyResources.cpuLimit),
            ("proxy.resources.memory.request", self.proxyResources.memoryRequest),
            ("proxy.resources.memory.limit", self.proxyResources.memoryLimit),
            ("webhook.failurePolicy", self.webhookFailurePolicy),
        ]
    }

    /// The values as a flat YAML mapping of quoted strings (`"controller.replicas": "3"`): one line per key, so a
    /// user reading the ConfigMap sees exactly the keys `--set` takes.
    public var yaml: String {
        self.entries.map { "\(Self.quoted($0.key)): \(Self.quoted($0.value))\n" }.joined()
    }

    /// Reads what `yaml` wrote. Keys it does not know are an error (a newer CLI's values need a newer `upgrade`);
    /// `ha` is applied first so that explicit replicas and failure policy stay as stored.
    public init(yaml text: String) throws(ValuesError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ValuesError("values", "", "not YAML: \(error)")
        }
        guard let mapping = node?.mapping else { throw ValuesError("values", "", "expected a mapping of key: value") }
        var pairs: [(String, String)] = []
        for (key, value) in mapping {
            guard let key = key.string, let value = value.string else { throw ValuesError("values", "", "expected string keys and values") }
            pairs.append((key, value))
        }
        guard let version = pairs.first(where: { $0.0 == "version" })?.1 else { throw ValuesError("version", "", "missing") }
        self.init(version: version)
        for (key, value) in pairs where key == "ha" { try self.set(key, value) }
        for (key, value) in pairs where key != "ha" { try self.set(key, value) }
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }

    static func nonEmpty(_ key: String, _ value: String) throws(ValuesError) -> String {
        guard !value.isEmpty, !value.contains(where: { $0.isWhitespace || $0 == "\"" }) else {
            throw ValuesError(key, value, "expected a non-empty value without spaces or quotes")
        }
        return value
    }

    static func oneOf(_ key: String, _ value: String, _ allowed: [String]) throws(ValuesError) -> String {
        guard allowed.contains(value) else { throw ValuesError(key, value, "expected one of \(allowed.joined(separator: ", "))") }
        return value
    }

    /// A Kubernetes quantity (`100m`, `64Mi`, `1.5`, `2G`), or empty for none.
    static func quantity(_ key: String, _ value: String) throws(ValuesError) -> String {
        guard !value.isEmpty else { return value }
        let suffixes = ["m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", ""]
        for suffix in suffixes.sorted(by: { $0.count > $1.count }) where value.hasSuffix(suffix) {
            let number = value.dropLast(suffix.count)
            let parts = number.split(separator: ".", omittingEmptySubsequences: false)
            if !number.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) { return value }
        }
        throw ValuesError(key, value, "expected a Kubernetes quantity such as 100m, 64Mi or 1")
    }
}

/// A bad `--set` or stored value: which key, what was given, what was expected.
public struct ValuesError: Error, CustomStringConvertible, Sendable {
    public var key: String
    public var value: String
    public var reason: String

    public init(_ key: String, _ value: String, _ reason: String) {
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var description: String { "\(self.key)=\(self.value): \(self.reason)" }
}

extension Character {
    var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
