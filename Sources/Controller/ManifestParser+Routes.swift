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

    /// What the route's `retry.swiftlet.io/*` and `timeout.swiftlet.io/*` annotations say; a rule's own `retry`
    /// and `timeouts` win over them.
    static func annotationPolicy(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> (
        retry: RouteRetry?, timeouts: RouteTimeouts
    ) {
        let node = metadata["annotations"]
        func value<T>(_ name: String, _ parse: (String) throws(RouteError) -> T) throws -> T? {
            guard let text = annotations[name] else { return nil }
            do {
                return try parse(text)
            } catch {
                throw reader.error(.invalidField, node!, "annotation \(name): \(error.message)")
            }
        }
        let statuses = try value("retry.swiftlet.io/http") { (text) throws(RouteError) in try RouteRetry.parseStatuses(text) }
        let codes = try value("retry.swiftlet.io/grpc") { (text) throws(RouteError) in try RouteRetry.parseGRPCCodes(text) }
        let limit = try value("retry.swiftlet.io/limit") { (text) throws(RouteError) -> Int in
            guard let limit = Int(text), (0...100).contains(limit) else {
                throw RouteError(.invalidValue, "\"\(text)\" is not a number of retries (0-100)")
            }
            return limit
        }
        let tryTimeout = try value("retry.swiftlet.io/timeout") { (text) throws(RouteError) in
            try GatewayDuration.parse(text, allowFractions: true)
        }
        let timeouts = RouteTimeouts(
            request: try value("timeout.swiftlet.io/request") { (text) throws(RouteError) in
                try GatewayDuration.parse(text, allowFractions: true)
            },
            backendRequest: try value("timeout.swiftlet.io/response") { (text) throws(RouteError) in
                try GatewayDuration.parse(text, allowFractions: true)
            },
            idle: try value("timeout.swiftlet.io/idle") { (text) throws(RouteError) in try GatewayDuration.parse(text, allowFractions: true)
            }
        )
        var retry: RouteRetry? = nil
        if statuses != nil || codes != nil || limit != nil || tryTimeout != nil {
            retry = RouteRetry(statuses: statuses ?? [], grpcCodes: codes ?? [], limit: limit ?? 1, timeout: tryTimeout)
        }
        return (retry, timeouts)
    }

    /// `balancer.swiftlet.io/failure-accrual: consecutive` with `…-consecutive-max-failures`, `-min-penalty`,
    /// `-max-penalty` and `-jitter-ratio` (Linkerd's names, our prefix).
    static func failureAccrual(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> FailureAccrual? {
        let prefix = "balancer.swiftlet.io/failure-accrual"
        guard let mode = annotations[prefix] else { return nil }
        let node = metadata["annotations"]!
        guard mode == "consecutive" else {
            throw reader.error(.invalidField, node, "annotation \(prefix): \"\(mode)\" is not a mode (consecutive)")
        }
        var accrual = FailureAccrual()
        if let text = annotations[prefix + "-consecutive-max-failures"] {
            guard let value = Int(text), value >= 1 else {
                throw reader.error(
                    .invalidField, node, "annotation \(prefix)-consecutive-max-failures: \"\(text)\" is not a number (1 or more)")
            }
            accrual.maxFailures = value
        }
        for (suffix, path) in [
            ("-consecutive-min-penalty", \FailureAccrual.minPenalty), ("-consecutive-max-penalty", \FailureAccrual.maxPenalty),
        ] {
            guard let text = annotations[prefix + suffix] else { continue }
            do {
                accrual[keyPath: path] = try GatewayDuration.parse(text, allowFractions: true)
            } catch {
                throw reader.error(.invalidField, node, "annotation \(prefix)\(suffix): \(error.message)")
            }
        }
        if let text = annotations[prefix + "-consecutive-jitter-ratio"] {
            guard let value = Double(text), (0...100).contains(value) else {
                throw reader.error(.invalidField, node, "annotation \(prefix)-consecutive-jitter-ratio: \"\(text)\" is not a ratio")
            }
            accrual.jitterRatio = value
        }
        guard accrual.minPenalty <= accrual.maxPenalty else {
            throw reader.error(.invalidField, node, "annotation \(prefix): the minimum penalty is longer than the maximum")
        }
        return accrual
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

    static func faultInjection(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> FaultInjectionSpec {
        let (key, _, _) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        var fault = RouteFault()
        if let abortNode = spec["abort"] {
            guard let abort = abortNode.mapping else { throw reader.error(.invalidField, abortNode, "`abort` must be a mapping") }
            fault.abortPercent = try reader.percent(abort, "percent", in: abortNode)
            if let statusNode = abort["httpStatus"] {
                guard let status = statusNode.int, (200...599).contains(status) else {
                    throw reader.error(.invalidField, statusNode, "`httpStatus` must be 200 to 599")
                }
                fault.abortStatus = status
            }
            if let grpcNode = abort["grpcStatus"] {
                guard let code = grpcNode.int, (1...16).contains(code) else {
                    throw reader.error(.invalidField, grpcNode, "`grpcStatus` must be a gRPC status code (1 to 16)")
                }
                fault.abortGRPCStatus = code
            }
        }
        if let delayNode = spec["delay"] {
            guard let delay = delayNode.mapping else { throw reader.error(.invalidField, delayNode, "`delay` must be a mapping") }
            fault.delayPercent = try reader.percent(delay, "percent", in: delayNode)
            guard let duration = try reader.optionalDuration(delay, "duration") else {
                throw reader.error(.missingField, delayNode, "a delay needs `duration`")
            }
            fault.delay = duration
        }
        return FaultInjectionSpec(key: key, fault: fault)
    }

    /// `XBackendTrafficPolicy`: the Services it targets (others kinds are not ours to use) and its retry budget, with
    /// GEP-3388's defaults for what is left out (the API server's CRD fills them in; a local file may not).
    static func backendTrafficPolicy(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> BackendTrafficPolicySpec {
        let (key, _, _) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        var services: [String] = []
        for node in try reader.sequence(spec, "targetRefs", in: root["spec"]!) {
            guard let ref = node.mapping else { throw reader.error(.invalidField, node, "a targetRef must be a mapping") }
            let group = try reader.optionalString(ref, "group") ?? ""
            let kind = try reader.string(ref, "kind", in: node)
            if (group == "" || group == "core") && kind == "Service" { services.append(try reader.string(ref, "name", in: node)) }
        }
        guard let constraintNode = spec["retryConstraint"] else {
            return BackendTrafficPolicySpec(key: key, services: services, budget: nil)
        }
        guard let constraint = constraintNode.mapping else {
            throw reader.error(.invalidField, constraintNode, "`retryConstraint` must be a mapping")
        }
        var percent = BackendTrafficPolicySpec.defaultPercent
        var interval = BackendTrafficPolicySpec.defaultInterval
        if let budgetNode = constraint["budget"] {
            guard let budget = budgetNode.mapping else { throw reader.error(.invalidField, budgetNode, "`budget` must be a mapping") }
            if budget["percent"] != nil { percent = try reader.percent(budget, "percent", in: budgetNode) }
            if let value = try reader.optionalDuration(budget, "interval") {
                guard value >= 1_000_000_000, value <= 3_600_000_000_000 else {
                    throw reader.error(.invalidField, budget["interval"]!, "`interval` must be from 1s to 1h")
                }
                interval = value
            }
        }
        var count = BackendTrafficPolicySpec.defaultMinRetryCount
        var per = BackendTrafficPolicySpec.defaultMinRetryInterval
        if let rateNode = constraint["minRetryRate"] {
            guard let rate = rateNode.mapping else { throw reader.error(.invalidField, rateNode, "`minRetryRate` must be a mapping") }
            if let countNode = rate["count"] {
                guard let value = countNode.int, value >= 1, value <= 1_000_000 else {
                    throw reader.error(.invalidField, countNode, "`count` must be from 1 to 1000000")
                }
                count = value
            }
            if let value = try reader.optionalDuration(rate, "interval") {
                guard value >= 1_000_000_000, value <= 3_600_000_000_000 else {
                    throw reader.error(.invalidField, rate["interval"]!, "`interval` must be from 1s to 1h")
                }
                per = value
            }
        }
        return BackendTrafficPolicySpec(
            key: key, services: services,
            budget: BackendTrafficPolicySpec.budget(percent: percent, interval: interval, minRetries: count, per: per))
    }

    /// The Service's `retry.swiftlet.io/budget-percent`, `budget-interval` and `min-retry-rate` (`10/1s`): the same
    /// budget as an XBackendTrafficPolicy's `retryConstraint`, on any channel of the Gateway API. nil: none given.
    static func retryBudget(_ annotations: [String: String], metadata: Node.Mapping, reader: FieldReader) throws -> RetryBudget.Settings? {
        let percentKey = "retry.swiftlet.io/budget-percent", intervalKey = "retry.swiftlet.io/budget-interval",
            rateKey = "retry.swiftlet.io/min-retry-rate"
        guard annotations[percentKey] != nil || annotations[intervalKey] != nil || annotations[rateKey] != nil else { return nil }
        let node = metadata["annotations"] ?? metadata["name"]!
        var percent = BackendTrafficPolicySpec.defaultPercent
        if let text = annotations[percentKey] {
            guard let value = Double(text), (0...100).contains(value) else {
                throw reader.error(.invalidField, node, "annotation \(percentKey): \"\(text)\" is not a percentage (0-100)")
            }
            percent = value
        }
        var interval = BackendTrafficPolicySpec.defaultInterval
        if let text = annotations[intervalKey] {
            do {
                interval = try GatewayDuration.parse(text)
            } catch {
                throw reader.error(.invalidField, node, "annotation \(intervalKey): \(error.message)")
            }
            guard interval >= 1_000_000_000 else {
                throw reader.error(.invalidField, node, "annotation \(intervalKey): must be 1s or more")
            }
        }
        var count = BackendTrafficPolicySpec.defaultMinRetryCount
        var per = BackendTrafficPolicySpec.defaultMinRetryInterval
        if let text = annotations[rateKey] {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[0]), value >= 1, let duration = try? GatewayDuration.parse(String(parts[1])),
                duration >= 1_000_000_000
            else {
                throw reader.error(.invalidField, node, "annotation \(rateKey): \"\(text)\" is not a rate such as 10/1s")
            }
            count = value
            per = duration
        }
        return BackendTrafficPolicySpec.budget(percent: percent, interval: interval, minRetries: count, per: per)
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

extension FieldReader {
    /// A string field as written, empty included (`group: ""` is the core API group, not a missing group).
    func presentString(_ mapping: Node.Mapping, _ key: String) throws -> String? {
        guard let node = mapping[key] else { return nil }
        guard case .scalar(let scalar) = node else { throw self.error(.invalidField, node, "`\(key)` must be a string") }
        return scalar.string
    }

    func optionalSequence(_ mapping: Node.Mapping, _ key: String) throws -> [Node] {
        guard let node = mapping[key] else { return [] }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" { return [] }
        guard let value = node.sequence else { throw self.error(.invalidField, node, "`\(key)` must be a list") }
        return Array(value)
    }

    func optionalDuration(_ mapping: Node.Mapping, _ key: String) throws -> Int64? {
        guard let node = mapping[key] else { return nil }
        guard let text = node.string else { throw self.error(.invalidField, node, "`\(key)` must be a duration such as 10s") }
        return try self.checked(node) { () throws(RouteError) in try GatewayDuration.parse(text) }
    }

    func percent(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> Double {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard let value = node.float ?? node.int.map(Double.init), value >= 0, value <= 100 else {
            throw self.error(.invalidField, node, "`\(key)` must be a percentage from 0 to 100")
        }
        return value
    }

    /// Runs a validation from ProxyCore and reports its failure at `node`'s line.
    func checked<T>(_ node: Node, _ body: () throws(RouteError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw self.error(.invalidField, node, error.message)
        }
    }
}
