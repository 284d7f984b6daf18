import MeshModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every `SWIFTLET_PROXY_*` environment variable, declared in this one place.
///
/// The same table parses the environment, renders `/env.json`, and prints the README's reference
/// (`swiftlet-proxy --env-reference`), so the three cannot drift apart.
public enum ProxyEnvironment {
    public struct Variable: Sendable {
        public let name: String
        public let defaultValue: String
        public let summary: String
        let apply: @Sendable (inout ProxyConfig, String) throws(ConfigError) -> Void
    }

    public static let variables: [Variable] = [
        Variable(
            name: "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR", defaultValue: "0.0.0.0:4143",
            summary: "Address the inbound listener binds (traffic to this workload)."
        ) { config, value throws(ConfigError) in config.inboundListen = try listenAddress(value) },
        Variable(
            name: "SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR", defaultValue: "127.0.0.1:4140",
            summary: "Address the outbound listener binds (traffic from this workload)."
        ) { config, value throws(ConfigError) in config.outboundListen = try listenAddress(value) },
        Variable(
            name: "SWIFTLET_PROXY_ADMIN_LISTEN_ADDR", defaultValue: "0.0.0.0:4191",
            summary: "Address of the admin server (/metrics, /ready, /live, /env.json, /shutdown)."
        ) { config, value throws(ConfigError) in config.adminListen = try listenAddress(value) },
        Variable(
            name: "SWIFTLET_PROXY_TAP_LISTEN_ADDR", defaultValue: "0.0.0.0:4190",
            summary: "Address of the tap server (gRPC Observe: live requests, for `swiftlet viz tap`)."
        ) { config, value throws(ConfigError) in config.tapListen = try listenAddress(value) },
        Variable(
            name: "SWIFTLET_PROXY_TAP_DISABLED", defaultValue: "false",
            summary: "`true`: no tap server, and requests are never tapped (the pod annotation `viz.swiftlet.io/disable-tap`)."
        ) { config, value throws(ConfigError) in
            guard value == "true" || value == "false" else { throw ConfigError(value: value, reason: "expected true or false") }
            if value == "true" { config.tapListen = nil }
        },
        Variable(
            name: "SWIFTLET_PROXY_TAP_SVC_NAME", defaultValue: "",
            summary: "The tap service's identity, the one client besides loopback that may tap "
                + "(`tap.swiftlet.serviceaccount.identity.swiftlet.cluster.local`). Empty: loopback only."
        ) { config, value throws(ConfigError) in config.tapServiceName = value },
        Variable(
            name: "SWIFTLET_PROXY_TAP_REDACT_HEADERS", defaultValue: "authorization,cookie,set-cookie,proxy-authorization",
            summary: "Headers whose values tap never sends (it sends `[redacted]`), comma separated."
        ) { config, value throws(ConfigError) in
            config.tapRedactedHeaders = Set(
                value.split(separator: ",").map { $0.trimmingASCIISpaces().lowercased() }.filter { !$0.isEmpty })
        },
        Variable(
            name: "SWIFTLET_PROXY_MODE", defaultValue: "explicit",
            summary: "`transparent`: iptables redirects traffic and SO_ORIGINAL_DST names the destination. "
                + "`explicit`: clients dial the proxy; outbound routes by Host/:authority, inbound goes to INBOUND_FORWARD_ADDR."
        ) { config, value throws(ConfigError) in
            guard let mode = ProxyMode(rawValue: value) else { throw ConfigError(value: value, reason: "expected transparent or explicit") }
            config.mode = mode
        },
        Variable(
            name: "SWIFTLET_PROXY_INBOUND_FORWARD_ADDR", defaultValue: "127.0.0.1:8080",
            summary: "Explicit mode: the local application that inbound traffic is forwarded to."
        ) { config, value throws(ConfigError) in
            config.inboundForward = try hostPort(value)
            guard config.inboundForward.port != 0 else { throw ConfigError(value: value, reason: "port 0 cannot be dialled") }
        },
        Variable(
            name: "SWIFTLET_PROXY_DESTINATIONS", defaultValue: "",
            summary: "Explicit mode: static routes `authority=addr[|addr…]`, comma separated "
                + "(`web:8080=127.0.0.1:9001|127.0.0.1:9002`). Other authorities resolve by DNS."
        ) { config, value throws(ConfigError) in config.staticDestinations = try destinations(value) },
        Variable(
            name: "SWIFTLET_PROXY_DESTINATION_ADDR", defaultValue: "",
            summary: "The controller's Destination API (`host:port`, e.g. `swiftlet-dst.swiftlet:8086`). Empty: no discovery. "
                + "Authorities not in DESTINATIONS are resolved through it; names it does not know fall back to DNS."
        ) { config, value throws(ConfigError) in config.destinationController = value.isEmpty ? nil : try hostPort(value) },
        Variable(
            name: "SWIFTLET_PROXY_NAMESPACE", defaultValue: "default",
            summary: "The workload's namespace: short names (`web:8080`) are services of this namespace."
        ) { config, value throws(ConfigError) in config.namespace = value },
        Variable(
            name: "SWIFTLET_PROXY_WORKLOAD", defaultValue: "",
            summary: "The workload's name, sent to the controller for its logs."
        ) { config, value throws(ConfigError) in config.workload = value },
        Variable(
            name: "SWIFTLET_PROXY_CLUSTER_DOMAIN", defaultValue: "cluster.local",
            summary: "The cluster's DNS domain: a route's backend Service is followed as `name.namespace.svc.<domain>:port`."
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty, !value.contains(":"), !value.contains("/") else {
                throw ConfigError(value: value, reason: "not a DNS domain")
            }
            config.clusterDomain = value.lowercased()
        },
        Variable(
            name: "SWIFTLET_PROXY_DESTINATION_IDLE_TIMEOUT", defaultValue: "60s",
            summary: "A destination without requests for this long stops being watched (its balancer is dropped)."
        ) { config, value throws(ConfigError) in config.destinationIdleTimeout = try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_DESTINATION_SERVER_NAME", defaultValue: "",
            summary: "With an identity, the Destination API is mTLS and must present this name. Empty: "
                + "`destination.<control-plane-ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`, from IDENTITY_LOCAL_NAME."
        ) { config, value throws(ConfigError) in config.destinationServerName = value.isEmpty ? nil : value.lowercased() },
        Variable(
            name: "SWIFTLET_PROXY_IDENTITY_ADDR", defaultValue: "",
            summary: "The controller's Identity API (`host:port`, e.g. `swiftlet-identity.swiftlet:8080`). Empty: no identity, "
                + "and traffic between proxies stays plaintext. Set: the proxy makes a key in memory, is certified before it is "
                + "ready, renews at 70 % of the lifetime, and speaks mTLS (TLS 1.3) to every endpoint discovery names an identity for."
        ) { config, value throws(ConfigError) in config.identityController = value.isEmpty ? nil : try hostPort(value) },
        Variable(
            name: "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME", defaultValue: "",
            summary: "This workload's identity: `<serviceaccount>.<namespace>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`."
        ) { config, value throws(ConfigError) in config.identityLocalName = value.lowercased() },
        Variable(
            name: "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS", defaultValue: "",
            summary: "The trust anchors (PEM) the identity service is verified against at start; later the service's answers "
                + "keep the set current, so anchors rotate without a restart."
        ) { config, value throws(ConfigError) in config.identityTrustAnchorsPEM = value },
        Variable(
            name: "SWIFTLET_PROXY_IDENTITY_TOKEN_FILE", defaultValue: "/var/run/secrets/tokens/swiftlet-identity-token",
            summary: "The service-account token sent with each certificate request (re-read every time, so it may rotate)."
        ) { config, value throws(ConfigError) in config.identityTokenFile = value },
        Variable(
            name: "SWIFTLET_PROXY_IDENTITY_SERVER_NAME", defaultValue: "",
            summary: "The identity service's own name, checked in its certificate. Empty: "
                + "`identity.<control-plane-ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`, from LOCAL_NAME."
        ) { config, value throws(ConfigError) in config.identityServerName = value.isEmpty ? nil : value.lowercased() },
        Variable(
            name: "SWIFTLET_PROXY_OPAQUE_PORTS", defaultValue: "25,587,3306,4444,5432,6379,9300,11211",
            summary: "Destination ports relayed as opaque TCP without protocol detection."
        ) { config, value throws(ConfigError) in config.opaquePorts = try ports(value) },
        Variable(
            name: "SWIFTLET_PROXY_DETECT_TIMEOUT", defaultValue: "10s",
            summary: "How long to wait for a client's first bytes before treating the connection as opaque TCP."
        ) { config, value throws(ConfigError) in config.detectTimeout = try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_CONNECT_TIMEOUT", defaultValue: "3s",
            summary: "Timeout for connecting to an upstream endpoint (504 when it expires)."
        ) { config, value throws(ConfigError) in config.connectTimeout = try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_RESPONSE_TIMEOUT", defaultValue: "",
            summary: "Time from sending a request to the response head arriving (504 when it expires); empty waits forever."
        ) { config, value throws(ConfigError) in config.responseTimeout = value.isEmpty ? nil : try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_HTTP_HEADER_READ_TIMEOUT", defaultValue: "10s",
            summary: "How long a client may take to send a whole HTTP/1 request head, from its first byte; a connection still "
                + "without one is answered 408 and closed (counted as `header_read_timeout` in `*_http_errors_total`)."
        ) { config, value throws(ConfigError) in
            config.headerReadTimeout = try duration(value)
            guard config.headerReadTimeout > .zero else { throw ConfigError(value: value, reason: "must be more than zero") }
        },
        Variable(
            name: "SWIFTLET_PROXY_UPSTREAM_IDLE_TIMEOUT", defaultValue: "60s",
            summary: "Pooled upstream connections idle this long are closed."
        ) { config, value throws(ConfigError) in config.upstreamIdleTimeout = try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_MAX_IDLE_PER_ENDPOINT", defaultValue: "128",
            summary: "Idle HTTP/1.1 connections kept per endpoint and worker thread."
        ) { config, value throws(ConfigError) in config.maxIdleConnectionsPerEndpoint = try integer(value, 0...100_000) },
        Variable(
            name: "SWIFTLET_PROXY_SHUTDOWN_GRACE_PERIOD", defaultValue: "30s",
            summary: "On SIGTERM or POST /shutdown: how long in-flight requests and connections may finish."
        ) { config, value throws(ConfigError) in config.shutdownGracePeriod = try duration(value) },
        Variable(
            name: "SWIFTLET_PROXY_WORKER_THREADS", defaultValue: "0",
            summary: "Event-loop threads; 0 means one per CPU core."
        ) { config, value throws(ConfigError) in config.workerThreads = try integer(value, 0...256) },
        Variable(
            name: "SWIFTLET_PROXY_LOG", defaultValue: "info",
            summary: "Log level: trace, debug, info, notice, warning, error, critical."
        ) { config, value throws(ConfigError) in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(value) else {
                throw ConfigError(value: value, reason: "expected one of \(levels.joined(separator: ", "))")
            }
            config.logLevel = value
        },
    ]

    /// Builds the configuration from `environment`, reporting the first bad variable by name.
    public static func parse(_ environment: [String: String]) throws(ConfigError) -> ProxyConfig {
        var config = ProxyConfig()
        for variable in self.variables {
            // An empty value is the default, as if the variable were not set (a manifest's `value: ""`).
            guard let value = environment[variable.name], !value.trimmingASCIISpaces().isEmpty else { continue }
            do {
                try variable.apply(&config, String(value.trimmingASCIISpaces()))
            } catch {
                var error = error
                error.variable = variable.name
                throw error
            }
        }
        try self.validateIdentity(config)
        return config
    }

    /// Identity settings go together: an identity address needs the local name and the anchors to start from.
    static func validateIdentity(_ config: ProxyConfig) throws(ConfigError) {
        guard config.identityController != nil else { return }
        guard IdentityName.parse(config.identityLocalName) != nil else {
            var error = ConfigError(
                value: config.identityLocalName,
                reason:
                    "expected <serviceaccount>.<namespace>.serviceaccount.identity.<control-plane-ns>.<trust-domain> (needed with "
                    + "SWIFTLET_PROXY_IDENTITY_ADDR)"
            )
            error.variable = "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME"
            throw error
        }
        guard config.identityTrustAnchorsPEM.contains("-----BEGIN CERTIFICATE-----") else {
            var error = ConfigError(
                value: String(config.identityTrustAnchorsPEM.prefix(40)),
                reason: "expected PEM certificates (needed with SWIFTLET_PROXY_IDENTITY_ADDR)")
            error.variable = "SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS"
            throw error
        }
    }

    /// The values in force, for `/env.json`: every declared variable, set or defaulted.
    public static func effectiveValues(_ environment: [String: String]) -> [(name: String, value: String)] {
        self.variables.map { variable in
            (variable.name, environment[variable.name].flatMap { $0.trimmingASCIISpaces().isEmpty ? nil : $0 } ?? variable.defaultValue)
        }
    }

    /// The Markdown reference table printed by `swiftlet-proxy --env-reference` and kept in the README.
    public static func markdownReference() -> String {
        var out = "| variable | default | meaning |\n|---|---|---|\n"
        for variable in self.variables {
            let value = variable.defaultValue.isEmpty ? "(empty)" : "`\(variable.defaultValue)`"
            out += "| `\(variable.name)` | \(value) | \(variable.summary) |\n"
        }
        return out
    }

    // MARK: value parsers

    /// An address to dial: an IP address or a DNS name, and a port.
    static func hostPort(_ value: String) throws(ConfigError) -> HostPort {
        guard let parsed = HostPort(parsing: value) else { throw ConfigError(value: value, reason: "expected host:port") }
        guard Self.isIPAddress(parsed.host) || Self.isDNSName(parsed.host) else {
            throw ConfigError(value: value, reason: "\"\(parsed.host)\" is neither an IP address nor a DNS name")
        }
        return parsed
    }

    /// An address to listen on: an IP address (a listener binds an address, not a name) and a port.
    static func listenAddress(_ value: String) throws(ConfigError) -> HostPort {
        guard let parsed = HostPort(parsing: value) else { throw ConfigError(value: value, reason: "expected ip:port") }
        guard Self.isIPAddress(parsed.host) else {
            throw ConfigError(value: value, reason: "\"\(parsed.host)\" is not an IP address (a listener binds an address, not a name)")
        }
        return parsed
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// RFC 1123 host names: labels of letters, digits and hyphens, not starting or ending with a hyphen.
    static func isDNSName(_ host: String) -> Bool {
        let name = host.hasSuffix(".") ? host.dropLast() : host[...]
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D }
        }
    }

    /// `SWIFTLET_PROXY_*` variables that are not the proxy's, each with the declared name it is most likely a typo of.
    public static func unknownVariables(_ environment: [String: String]) -> [(name: String, suggestion: String?)] {
        let known = Set(self.variables.map(\.name))
        return environment.keys.filter { $0.hasPrefix("SWIFTLET_PROXY_") && !known.contains($0) }.sorted().map { name in
            let closest = self.variables.map { ($0.name, Self.editDistance(name, $0.name)) }.min { $0.1 < $1.1 }
            return (name, closest.flatMap { $0.1 <= 3 ? $0.0 : nil })
        }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    static func integer(_ value: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let parsed = Int(value), range.contains(parsed) else {
            throw ConfigError(value: value, reason: "expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return parsed
    }

    static func ports(_ value: String) throws(ConfigError) -> Set<Int> {
        var result = Set<Int>()
        for item in value.split(separator: ",") {
            let text = item.trimmingASCIISpaces()
            if text.isEmpty { continue }
            if let dash = text.firstIndex(of: "-") {
                guard let low = Int(text[..<dash]), let high = Int(text[text.index(after: dash)...]),
                    1 <= low, low <= high, high <= 65535
                else { throw ConfigError(value: value, reason: "bad port range '\(text)'") }
                result.formUnion(low...high)
            } else {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw ConfigError(value: value, reason: "bad port '\(text)'")
                }
                result.insert(port)
            }
        }
        return result
    }

    /// Durations as `250ms`, `10s`, `5m`, `1h`; a bare number means seconds.
    public static func duration(_ value: String) throws(ConfigError) -> Duration {
        let units: [(suffix: String, scale: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where value.hasSuffix(suffix) {
            let number = value.dropLast(suffix.count)
            if let count = Int64(number), count >= 0, count < Int64.max / scale {
                return .milliseconds(count * scale)
            }
            throw ConfigError(value: value, reason: "expected a duration such as 250ms, 10s or 5m")
        }
        if let seconds = Int64(value), seconds >= 0, seconds < Int64.max / 1000 { return .seconds(seconds) }
        throw ConfigError(value: value, reason: "expected a duration such as 250ms, 10s or 5m")
    }

    static func destinations(_ value: String) throws(ConfigError) -> [HostPort: [HostPort]] {
        var table: [HostPort: [HostPort]] = [:]
        for entry in value.split(separator: ",") {
            let text = entry.trimmingASCIISpaces()
            if text.isEmpty { continue }
            guard let equals = text.firstIndex(of: "="),
                let authority = HostPort(parsing: text[..<equals], defaultPort: 80), authority.port != 0
            else { throw ConfigError(value: value, reason: "expected authority=addr in '\(text)'") }
            var endpoints: [HostPort] = []
            for address in text[text.index(after: equals)...].split(separator: "|") {
                guard let endpoint = HostPort(parsing: address), endpoint.port != 0 else {
                    throw ConfigError(value: value, reason: "bad endpoint '\(address)' in '\(text)'")
                }
                endpoints.append(endpoint)
            }
            guard !endpoints.isEmpty else { throw ConfigError(value: value, reason: "no endpoints in '\(text)'") }
            table[HostPort(host: authority.host.lowercased(), port: authority.port)] = endpoints
        }
        return table
    }
}
