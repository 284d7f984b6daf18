import Foundation
import MeshModel

/// What the controller sends proxies about one authority, in words, for `swiftlet diagnostics endpoints` and
/// `policy` (the admin's `/debug/endpoints` and `/debug/policy`, from the controller's host only).
enum ControllerDiagnostics {
    static func answer(_ request: AdminHTTPServer.Request, index: ClusterIndex, clusterDomain: String)
        -> AdminHTTPServer.Response
    {
        // What the controller sends every proxy is the mesh's map: for an operator on this host only (on a cluster,
        // through `kubectl port-forward`), as the proxies' own `/shutdown` is.
        guard request.fromLoopback else { return .init(.forbidden, "only from the controller's host (kubectl port-forward)\n") }
        guard let authority = request.query["authority"], !authority.isEmpty else {
            return .init(.badRequest, "give ?authority=<service>.<namespace>.svc.<cluster-domain>:<port>\n")
        }
        let namespace = request.query["namespace"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        guard let parsed = DestinationAuthority(parsing: authority, contextNamespace: namespace, clusterDomain: clusterDomain) else {
            return .init(.notFound, "\(authority) is not a Service of the cluster (\(clusterDomain)): proxies resolve it by DNS\n")
        }
        if parsed.workloadAddress == nil {
            guard let service = index.snapshot.services[parsed.service] else {
                return .init(
                    .notFound, "no Service \(parsed.service): proxies resolve \(authority) by DNS and send it there, without routes\n")
            }
            guard service.ports.contains(where: { $0.port == parsed.port }) else {
                let ports = service.ports.map { String($0.port) }.joined(separator: ", ")
                return .init(.notFound, "Service \(parsed.service) has no port \(parsed.port) (its ports: \(ports))\n")
            }
        }
        switch request.path {
        case "/debug/endpoints": return .init(.ok, Self.endpoints(parsed, index.resolve(parsed)))
        default:
            let policy = PolicyResolver.policy(for: parsed, clientNamespace: request.query["client-namespace"], in: index.snapshot)
            return .init(.ok, Self.policy(parsed, policy))
        }
    }

    static func endpoints(_ authority: DestinationAuthority, _ resolution: DestinationResolution) -> String {
        let title = "Service \(authority.service) port \(authority.port)"
        switch resolution {
        case .noEndpoints(let exists):
            return exists ? "\(title): no endpoints\n" : "\(title): no such Service; proxies resolve the name by DNS\n"
        case .endpoints(let endpoints, let labels):
            var rows = [["ENDPOINT", "WEIGHT", "IDENTITY", "PROTOCOL", "LABELS"]]
            for (address, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
                rows.append([
                    address.description, String(endpoint.weight), endpoint.identity ?? "(not meshed)",
                    Self.protocolName(endpoint.protocolHint),
                    endpoint.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                ])
            }
            let shared = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            return "\(title): \(endpoints.count) endpoint\(endpoints.count == 1 ? "" : "s") (\(shared))\n" + Self.table(rows)
        }
    }

    /// What the proxy does with the endpoint's bytes: `detect` (the proxy reads the protocol from the first bytes),
    /// `h2` (appProtocol says HTTP/2), `opaque` (TCP, not read).
    static func protocolName(_ hint: ResolvedEndpoint.ProtocolHint) -> String {
        switch hint {
        case .unknown: "detect"
        case .http2: "h2"
        case .opaque: "opaque"
        }
    }

    static func policy(_ authority: DestinationAuthority, _ policy: ServicePolicy?) -> String {
        guard let policy else { return "Service \(authority.service) port \(authority.port): no policy (not a Service port of the mesh)\n" }
        var lines = ["Service \(policy.namespace)/\(policy.name) port \(policy.port)"]
        if let accrual = policy.accrual {
            lines.append(
                "  failure accrual: \(accrual.maxFailures) failures in a row eject an endpoint for \(accrual.minPenalty / 1_000_000) ms"
                    + " to \(accrual.maxPenalty / 1_000_000) ms")
        }
        let budget = policy.budget ?? RetryBudget.Settings()
        lines.append(
            "  retry budget: \(Int(budget.ratio * 100)) % of requests, at least \(Int(budget.perSecond))/s, over \(budget.window) s")
        if policy.routes.isEmpty {
            lines.append("  no routes: the Service's own rule")
            lines += Self.rule(policy.defaultRule, indent: "    ")
        }
        for route in policy.routes {
            lines.append("  \(route.kind == .grpc ? "GRPCRoute" : "HTTPRoute") \(route.namespace)/\(route.name)")
            for (index, rule) in route.rules.enumerated() {
                lines.append("    rule \(index + 1): \(Self.matches(rule.matches))")
                lines += Self.rule(rule, indent: "      ")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func matches(_ matches: RouteRule.Matches) -> String {
        switch matches {
        case .http(let list):
            return list.isEmpty || list == [.everything] ? "every request" : list.map(Self.describe).joined(separator: " or ")
        case .grpc(let list):
            return list.isEmpty || list == [.everything] ? "every call" : list.map(Self.describe).joined(separator: " or ")
        }
    }

    static func describe(_ match: HTTPRouteMatch) -> String {
        var parts: [String] = []
        switch match.path {
        case .exact(let path): parts.append("path = \(path)")
        case .prefix(let prefix): if !prefix.isEmpty { parts.append("path under \(prefix)/") }
        case .regularExpression(let regex): parts.append("path ~ \(regex.pattern)")
        }
        if let method = match.method { parts.append("method \(method)") }
        parts += match.headers.map { "header \($0.name) \(Self.describe($0.value))" }
        parts += match.queryParams.map { "query \($0.name) \(Self.describe($0.value))" }
        return parts.isEmpty ? "every request" : "(" + parts.joined(separator: " and ") + ")"
    }

    static func describe(_ match: GRPCRouteMatch) -> String {
        var parts: [String] = []
        if let service = match.service { parts.append("service \(Self.describe(service))") }
        if let method = match.method { parts.append("method \(Self.describe(method))") }
        parts += match.headers.map { "header \($0.name) \(Self.describe($0.value))" }
        return parts.isEmpty ? "every call" : "(" + parts.joined(separator: " and ") + ")"
    }

    static func describe(_ value: RouteValueMatch) -> String {
        switch value {
        case .exact(let text): "= \(text)"
        case .regularExpression(let regex): "~ \(regex.pattern)"
        }
    }

    static func describe(_ filter: RouteFilter) -> String {
        func modifier(_ modifier: RouteFilter.HeaderModifier) -> String {
            (modifier.set.map { "set \($0.name): \($0.value)" } + modifier.add.map { "add \($0.name): \($0.value)" }
                + modifier.remove.map { "remove \($0)" }).joined(separator: ", ")
        }
        func path(_ modifier: RouteFilter.PathModifier?) -> String? {
            switch modifier {
            case .replaceFullPath(let path): "path \(path)"
            case .replacePrefixMatch(let prefix): "prefix → \(prefix)"
            case nil: nil
            }
        }
        switch filter {
        case .requestHeaderModifier(let headers): return "request headers: \(modifier(headers))"
        case .responseHeaderModifier(let headers): return "response headers: \(modifier(headers))"
        case .requestRedirect(let redirect):
            let target = [
                redirect.scheme.map { "scheme \($0)" }, redirect.hostname.map { "host \($0)" }, redirect.port.map { "port \($0)" },
                path(redirect.path),
            ].compactMap { $0 }
            return "redirect \(redirect.statusCode)" + (target.isEmpty ? "" : ": " + target.joined(separator: ", "))
        case .urlRewrite(let rewrite):
            return "rewrite " + [rewrite.hostname.map { "host \($0)" }, path(rewrite.path)].compactMap { $0 }.joined(separator: ", ")
        case .requestMirror(let backend, let percent):
            return "mirror \(Self.percent(percent)) to \(backend.namespace)/\(backend.name):\(backend.port.map(String.init) ?? "-")"
        case .fault(let fault):
            var parts: [String] = []
            if fault.abortPercent > 0 {
                parts.append(
                    "abort \(Self.percent(fault.abortPercent)) with \(fault.abortStatus)"
                        + (fault.abortGRPCStatus.map { " (grpc \($0))" } ?? ""))
            }
            if fault.delayPercent > 0 { parts.append("delay \(Self.percent(fault.delayPercent)) by \(fault.delay / 1_000_000) ms") }
            return "fault: " + (parts.isEmpty ? "none" : parts.joined(separator: ", "))
        case .extensionRef(let group, let kind, let name): return "extension \(kind).\(group) \(name)"
        }
    }

    static func percent(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) %" : "\(value) %"
    }

    static func rule(_ rule: RouteRule, indent: String) -> [String] {
        var lines = rule.backends.map { backend in
            "\(indent)→ \(backend.namespace)/\(backend.name):\(backend.port.map(String.init) ?? "-") weight \(backend.weight)"
                + (backend.unresolved.map { " (\($0): answered 500)" } ?? "")
                + backend.filters.map { "; \(Self.describe($0))" }.joined()
        }
        for filter in rule.filters { lines.append("\(indent)filter \(Self.describe(filter))") }
        let timeouts = rule.timeouts
        if timeouts.request != nil || timeouts.backendRequest != nil || timeouts.idle != nil {
            let parts = [("request", timeouts.request), ("per try", timeouts.backendRequest), ("idle", timeouts.idle)].compactMap {
                name, value in
                value.map { "\(name) \($0 / 1_000_000) ms" }
            }
            lines.append("\(indent)timeouts: \(parts.joined(separator: ", "))")
        }
        if let retry = rule.retry {
            let on = retry.statuses.map { "\($0.lowerBound)-\($0.upperBound)" } + retry.grpcCodes.sorted().map { "grpc \($0)" }
            lines.append("\(indent)retries: up to \(retry.limit) on \(on.isEmpty ? "connection failures" : on.joined(separator: ", "))")
        }
        return lines
    }

    static func table(_ rows: [[String]]) -> String {
        var widths = rows[0].map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
