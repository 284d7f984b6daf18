import MeshModel
import Yams

/// `HTTPRoute`, `GRPCRoute` (`gateway.networking.k8s.io/v1`, and `v1beta1`/`v1alpha2` as clusters still serve them)
/// and our `FaultInjection`. What the Gateway API's CRD validation would refuse at `kubectl apply` is refused here
/// the same way, with its line (the file's last good version stays, as a cluster would keep the last accepted
/// object); what a cluster accepts but the mesh cannot use (a parent that is not a Service, an unknown backend) is
/// read and reported later, by the index.
extension ManifestParser {
    static let gatewayGroup = "gateway.networking.k8s.io"
    static let gatewayVersions: Set<String> = [
        "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1alpha2",
    ]
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    static func route(_ kind: Route.Kind, _ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> RouteSpec {
        let (key, _, metadata) = try Self.metadata(root, document, reader)
        let annotations = try reader.stringMap(metadata, "annotations") ?? [:]
        let created = try metadata["creationTimestamp"].map { node throws -> Int64 in
            guard let text = node.string, let seconds = Self.rfc3339Seconds(text) else {
                throw reader.error(.invalidField, node, "creationTimestamp must be an RFC 3339 time (2024-05-01T12:00:00Z)")
            }
            return seconds
        }
        let spec = try reader.mapping(root, "spec", in: document)
        let specNode = root["spec"]!

        var parents: [RouteSpec.Parent] = []
        var otherParents: [String] = []
        for node in try reader.optionalSequence(spec, "parentRefs") {
            guard let ref = node.mapping else { throw reader.error(.invalidField, node, "a parentRef must be a mapping") }
            let group = try reader.presentString(ref, "group") ?? Self.gatewayGroup
            let refKind = try reader.optionalString(ref, "kind") ?? "Gateway"
            let name = try reader.string(ref, "name", in: node)
            let namespace = try reader.optionalDNSLabel(ref, "namespace") ?? key.namespace
            let port = try ref["port"].map { _ in try reader.port(ref, "port", in: node) }
            if (group == "" || group == "core") && refKind == "Service" {
                parents.append(RouteSpec.Parent(service: ObjectKey(namespace: namespace, name: name), port: port))
            } else {
                otherParents.append("\(refKind) \(namespace)/\(name)")
            }
        }

        var hostnames: [RouteHostname] = []
        for node in try reader.optionalSequence(spec, "hostnames") {
            guard let text = node.string else { throw reader.error(.invalidField, node, "a hostname must be a string") }
            hostnames.append(try reader.checked(node) { () throws(RouteError) in try RouteHostname.make(text) })
        }

        let defaults = try Self.annotationPolicy(annotations, metadata: metadata, reader: reader)
        var backendLines: [String: Int] = [:]
        var rules: [RouteRule] = []
        for node in try reader.optionalSequence(spec, "rules") {
            guard let rule = node.mapping else { throw reader.error(.invalidField, node, "a rule must be a mapping") }
            rules.append(try Self.rule(kind, rule, node, namespace: key.namespace, defaults: defaults, backendLines: &backendLines, reader))
        }
        if rules.isEmpty {
            // The CRD's default: one rule sending everything to no backend (its requests get a 500).
            rules.append(RouteRule(matches: kind == .http ? .http([]) : .grpc([]), timeouts: defaults.timeouts, retry: defaults.retry))
        }
        let route = Route(kind: kind, namespace: key.namespace, name: key.name, created: created ?? 0, hostnames: hostnames, rules: rules)
        return RouteSpec(
            key: key, kind: kind, parents: parents, otherParents: otherParents, route: route, file: reader.file,
            line: document.mark?.line ?? 1,
            backendLines: backendLines, creationTimestamp: created
        )
    }

    private static func rule(
        _ kind: Route.Kind, _ rule: Node.Mapping, _ node: Node, namespace: String, defaults: (retry: RouteRetry?, timeouts: RouteTimeouts),
        backendLines: inout [String: Int], _ reader: FieldReader
    ) throws -> RouteRule {
        let matches: RouteRule.Matches
        switch kind {
        case .http: matches = .http(try reader.optionalSequence(rule, "matches").map { try Self.httpMatch($0, reader) })
        case .grpc: matches = .grpc(try reader.optionalSequence(rule, "matches").map { try Self.grpcMatch($0, reader) })
        }
        let filters = try reader.optionalSequence(rule, "filters").map { try Self.filter(kind, $0, namespace: namespace, reader) }
        var backends: [RouteBackend] = []
        for backendNode in try reader.optionalSequence(rule, "backendRefs") {
            let backend = try Self.backend(kind, backendNode, namespace: namespace, weighted: true, reader)
            backendLines[backend.reference] = backendLines[backend.reference] ?? backendNode.mark?.line
            backends.append(backend)
        }
        var timeouts = defaults.timeouts
        if let timeoutsNode = rule["timeouts"] {
            guard kind == .http else {
                throw reader.error(
                    .invalidField, timeoutsNode, "GRPCRoute rules have no `timeouts`; use the timeout.swiftlet.io annotations")
            }
            guard let mapping = timeoutsNode.mapping else {
                throw reader.error(.invalidField, timeoutsNode, "`timeouts` must be a mapping")
            }
            let request = try reader.optionalDuration(mapping, "request")
            let backendRequest = try reader.optionalDuration(mapping, "backendRequest")
            if let request, let backendRequest, request != 0, backendRequest > request {
                throw reader.error(.invalidField, timeoutsNode, "backendRequest must not be longer than request")
            }
            timeouts = RouteTimeouts(
                request: request ?? defaults.timeouts.request, backendRequest: backendRequest ?? defaults.timeouts.backendRequest,
                idle: defaults.timeouts.idle
            )
        }
        var retry = defaults.retry
        if let retryNode = rule["retry"] {
            guard let mapping = retryNode.mapping else { throw reader.error(.invalidField, retryNode, "`retry` must be a mapping") }
            var statuses: [ClosedRange<Int>] = []
            for codeNode in try reader.optionalSequence(mapping, "codes") {
                guard let code = codeNode.int, (400...599).contains(code) else {
                    throw reader.error(.invalidField, codeNode, "a retry code must be a status from 400 to 599")
                }
                statuses.append(code...code)
            }
            let attempts = try mapping["attempts"].map { attemptsNode throws -> Int in
                guard let value = attemptsNode.int, value >= 0 else {
                    throw reader.error(.invalidField, attemptsNode, "`attempts` must be a number (0 or more)")
                }
                return value
            }
            retry = RouteRetry(
                statuses: statuses.isEmpty ? (defaults.retry?.statuses ?? []) : statuses, grpcCodes: defaults.retry?.grpcCodes ?? [],
                limit: attempts ?? defaults.retry?.limit ?? 1, backoff: try reader.optionalDuration(mapping, "backoff"),
                timeout: defaults.retry?.timeout
            )
        }
        return RouteRule(matches: matches, filters: filters, backends: backends, timeouts: timeouts, retry: retry)
    }

    private static func httpMatch(_ node: Node, _ reader: FieldReader) throws -> HTTPRouteMatch {
        guard let match = node.mapping else { throw reader.error(.invalidField, node, "a match must be a mapping") }
        var path = HTTPPathMatch.everything
        if let pathNode = match["path"] {
            guard let mapping = pathNode.mapping else {
                throw reader.error(.invalidField, pathNode, "`path` must be a mapping with `type` and `value`")
            }
            let type = try reader.optionalString(mapping, "type") ?? "PathPrefix"
            let value = try reader.optionalString(mapping, "value") ?? "/"
            path = try reader.checked(mapping["value"] ?? pathNode) { () throws(RouteError) in
                try HTTPPathMatch.make(type: type, value: value)
            }
        }
        var method: String? = nil
        if let methodNode = match["method"] {
            guard let text = methodNode.string, Self.methods.contains(text) else {
                throw reader.error(.invalidField, methodNode, "`method` must be one of \(Self.methods.sorted().joined(separator: ", "))")
            }
            method = text
        }
        let headers = try reader.optionalSequence(match, "headers").map { try Self.headerMatch($0, reader) }
        let query = try reader.optionalSequence(match, "queryParams").map { entry -> RouteQueryMatch in
            let (name, value) = try Self.valueMatch(entry, reader)
            return RouteQueryMatch(name: name, value: value)
        }
        return HTTPRouteMatch(path: path, method: method, headers: headers, queryParams: query)
    }

    private static func grpcMatch(_ node: Node, _ reader: FieldReader) throws -> GRPCRouteMatch {
        guard let match = node.mapping else { throw reader.error(.invalidField, node, "a match must be a mapping") }
        var service: RouteValueMatch? = nil
        var method: RouteValueMatch? = nil
        if let methodNode = match["method"] {
            guard let mapping = methodNode.mapping else { throw reader.error(.invalidField, methodNode, "`method` must be a mapping") }
            let type = try reader.optionalString(mapping, "type") ?? "Exact"
            for (field, target) in [("service", 0), ("method", 1)] {
                guard let text = try reader.optionalString(mapping, field) else { continue }
                let value = try reader.checked(mapping[field]!) { () throws(RouteError) in try Self.valueMatch(type: type, text) }
                if target == 0 { service = value } else { method = value }
            }
            guard service != nil || method != nil else {
                throw reader.error(.invalidField, methodNode, "a method match needs `service`, `method` or both")
            }
        }
        let headers = try reader.optionalSequence(match, "headers").map { try Self.headerMatch($0, reader) }
        return GRPCRouteMatch(service: service, method: method, headers: headers)
    }

    private static func headerMatch(_ node: Node, _ reader: FieldReader) throws -> RouteHeaderMatch {
        let (name, value) = try Self.valueMatch(node, reader)
        return RouteHeaderMatch(name: name, value: value)
    }

    /// `{type: Exact|RegularExpression, name, value}`.
    private static func valueMatch(_ node: Node, _ reader: FieldReader) throws -> (String, RouteValueMatch) {
        guard let mapping = node.mapping else {
            throw reader.error(.invalidField, node, "a match must be a mapping with `name` and `value`")
        }
        let name = try reader.string(mapping, "name", in: node)
        let value = try reader.optionalString(mapping, "value") ?? ""
        let type = try reader.optionalString(mapping, "type") ?? "Exact"
        return (name, try reader.checked(mapping["value"] ?? node) { () throws(RouteError) in try Self.valueMatch(type: type, value) })
    }

    private static func valueMatch(type: String, _ value: String) throws(RouteError) -> RouteValueMatch {
        switch type {
        case "Exact": return .exact(value)
        case "RegularExpression": return .regularExpression(try RouteRegex(value))
        default: throw RouteError(.invalidValue, "match type \"\(type)\" is not Exact or RegularExpression")
        }
    }

    private static func backend(_ kind: Route.Kind, _ node: Node, namespace: String, weighted: Bool, _ reader: FieldReader) throws
        -> RouteBackend
    {
        guard let ref = node.mapping else { throw reader.error(.invalidField, node, "a backendRef must be a mapping") }
        let group = try reader.presentString(ref, "group") ?? ""
        let refKind = try reader.optionalString(ref, "kind") ?? "Service"
        let name = try reader.string(ref, "name", in: node)
        let refNamespace = try reader.optionalDNSLabel(ref, "namespace") ?? namespace
        let isService = (group == "" || group == "core") && refKind == "Service"
        var port: Int? = nil
        if ref["port"] != nil {
            port = try reader.port(ref, "port", in: node)
        } else if isService {
            throw reader.error(.missingField, node, "a backendRef to a Service needs `port`")
        }
        var weight = 1
        if weighted, let weightNode = ref["weight"] {
            guard let value = weightNode.int, (0...1_000_000).contains(value) else {
                throw reader.error(.invalidField, weightNode, "`weight` must be 0 to 1000000")
            }
            weight = value
        }
        let filters = try reader.optionalSequence(ref, "filters").map { try Self.filter(kind, $0, namespace: namespace, reader) }
        return RouteBackend(
            namespace: refNamespace, name: name, port: port, weight: weight,
            unresolved: isService ? nil : "backend \(refKind) \(refNamespace)/\(name) is not a Service", filters: filters
        )
    }

    private static func filter(_ kind: Route.Kind, _ node: Node, namespace: String, _ reader: FieldReader) throws -> RouteFilter {
        guard let filter = node.mapping else { throw reader.error(.invalidField, node, "a filter must be a mapping with `type`") }
        let type = try reader.string(filter, "type", in: node)
        func body(_ field: String) throws -> (Node.Mapping, Node) {
            guard let bodyNode = filter[field] else { throw reader.error(.missingField, node, "a \(type) filter needs `\(field)`") }
            guard let mapping = bodyNode.mapping else { throw reader.error(.invalidField, bodyNode, "`\(field)` must be a mapping") }
            return (mapping, bodyNode)
        }
        switch (kind, type) {
        case (_, "RequestHeaderModifier"):
            return .requestHeaderModifier(try Self.headerModifier(try body("requestHeaderModifier"), reader))
        case (_, "ResponseHeaderModifier"):
            return .responseHeaderModifier(try Self.headerModifier(try body("responseHeaderModifier"), reader))
        case (.http, "RequestRedirect"):
            let (mapping, bodyNode) = try body("requestRedirect")
            let scheme = try reader.optionalString(mapping, "scheme")
            if let scheme, scheme != "http", scheme != "https" {
                throw reader.error(.invalidField, bodyNode, "`scheme` must be http or https")
            }
            var status = 302
            if let statusNode = mapping["statusCode"] {
                guard let value = statusNode.int, [301, 302, 303, 307, 308].contains(value) else {
                    throw reader.error(.invalidField, statusNode, "`statusCode` must be 301, 302, 303, 307 or 308")
                }
                status = value
            }
            let hostname = try reader.optionalString(mapping, "hostname")
            let port = try mapping["port"].map { _ in try reader.port(mapping, "port", in: bodyNode) }
            return .requestRedirect(
                RouteFilter.Redirect(
                    scheme: scheme, hostname: hostname, path: try Self.pathModifier(mapping, bodyNode, reader), port: port,
                    statusCode: status)
            )
        case (.http, "URLRewrite"):
            let (mapping, bodyNode) = try body("urlRewrite")
            return .urlRewrite(
                RouteFilter.Rewrite(
                    hostname: try reader.optionalString(mapping, "hostname"), path: try Self.pathModifier(mapping, bodyNode, reader)))
        case (_, "RequestMirror"):
            let (mapping, bodyNode) = try body("requestMirror")
            guard let backendNode = mapping["backendRef"] else {
                throw reader.error(.missingField, bodyNode, "a RequestMirror filter needs `backendRef`")
            }
            let backend = try Self.backend(kind, backendNode, namespace: namespace, weighted: false, reader)
            var percent = 100.0
            if let percentNode = mapping["percent"] {
                guard let value = percentNode.int, (0...100).contains(value) else {
                    throw reader.error(.invalidField, percentNode, "`percent` must be 0 to 100")
                }
                percent = Double(value)
            } else if let fractionNode = mapping["fraction"], let fraction = fractionNode.mapping {
                guard let numerator = fraction["numerator"]?.int, numerator >= 0 else {
                    throw reader.error(.invalidField, fractionNode, "`fraction.numerator` must be 0 or more")
                }
                let denominator = fraction["denominator"]?.int ?? 100
                guard denominator > 0, numerator <= denominator else {
                    throw reader.error(.invalidField, fractionNode, "`fraction` must be at most 1")
                }
                percent = 100 * Double(numerator) / Double(denominator)
            }
            return .requestMirror(backend, percent: percent)
        case (_, "ExtensionRef"):
            let (mapping, bodyNode) = try body("extensionRef")
            let group = try reader.string(mapping, "group", in: bodyNode)
            let refKind = try reader.string(mapping, "kind", in: bodyNode)
            let name = try reader.string(mapping, "name", in: bodyNode)
            return .extensionRef(group: group, kind: refKind, name: name)
        default:
            throw reader.error(.invalidField, filter["type"]!, "filter type \"\(type)\" is not supported on a \(kind.rawValue)")
        }
    }

    private static func headerModifier(_ body: (Node.Mapping, Node), _ reader: FieldReader) throws -> RouteFilter.HeaderModifier {
        let (mapping, _) = body
        func pairs(_ field: String) throws -> [HTTPFieldPair] {
            try reader.optionalSequence(mapping, field).map { node in
                guard let pair = node.mapping else {
                    throw reader.error(.invalidField, node, "a header must be a mapping with `name` and `value`")
                }
                let name = try reader.string(pair, "name", in: node)
                guard Self.isHeaderName(name) else { throw reader.error(.invalidField, node, "\"\(name)\" is not a header name") }
                return HTTPFieldPair(name: name, value: try reader.optionalString(pair, "value") ?? "")
            }
        }
        let remove = try reader.optionalSequence(mapping, "remove").map { node -> String in
            guard let name = node.string, Self.isHeaderName(name) else {
                throw reader.error(.invalidField, node, "`remove` takes header names")
            }
            return name
        }
        return RouteFilter.HeaderModifier(set: try pairs("set"), add: try pairs("add"), remove: remove)
    }

    private static func pathModifier(_ mapping: Node.Mapping, _ parent: Node, _ reader: FieldReader) throws -> RouteFilter.PathModifier? {
        guard let node = mapping["path"] else { return nil }
        guard let path = node.mapping else { throw reader.error(.invalidField, node, "`path` must be a mapping") }
        switch try reader.string(path, "type", in: node) {
        case "ReplaceFullPath": return .replaceFullPath(try reader.string(path, "replaceFullPath", in: node))
        case "ReplacePrefixMatch": return .replacePrefixMatch(try reader.optionalString(path, "replacePrefixMatch") ?? "/")
        default: throw reader.error(.invalidField, path["type"]!, "path modifier type must be ReplaceFullPath or ReplacePrefixMatch")
        }
    }

    /// An RFC 9110 field name: one or more token characters.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }

    /// `2024-05-01T12:00:00Z` (what the API server writes) → seconds since 1970.
    static func rfc3339Seconds(_ text: String) -> Int64? {
        let digits = Array(text.utf8)
        guard digits.count >= 20, digits[4] == UInt8(ascii: "-"), digits[7] == UInt8(ascii: "-"), digits[10] == UInt8(ascii: "T") else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: digits[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        // Days from civil (proleptic Gregorian), as in Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Int64(days * 86400 + hour * 3600 + minute * 60 + second)
    }
}

extension RouteBackend {
    /// `namespace/name:port`, how a route's problems find the line a backend was written on.
    var reference: String { "\(self.namespace)/\(self.name):\(self.port.map(String.init) ?? "-")" }
}
