import MeshModel
import NIOCore
import ProxyCore
import ProxyGRPC

/// The messages of `swiftlet.policy.v1.OutboundPolicies/Watch` the proxy sends and reads, encoded by hand
/// (proto/swiftlet/policy/v1/policy.proto; field numbers below are that file's). What arrives is decoded straight
/// into ProxyCore's route model, the same types the controller built it from.
enum PolicyWatchMessages {
    static let watchPath = "/swiftlet.policy.v1.OutboundPolicies/Watch"

    /// `WatchRequest { subscribe: Subscribe { id, authority, context_namespace } }`
    static func subscribe(id: UInt64, authority: String, namespace: String) -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { subscribe in
            subscribe.write(1, varint: id)
            subscribe.write(2, string: authority)
            subscribe.write(3, string: namespace)
        }
        return writer.buffer
    }

    /// `WatchRequest { unsubscribe: id }`
    static func unsubscribe(id: UInt64) -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.writeAlways(2, varint: id)
        return writer.buffer
    }

    /// `WatchUpdate { id, policy }`: the subscription's whole policy, or none (not a Service port).
    static func update(_ message: ByteBuffer) throws(ProtobufError) -> (id: UInt64, policy: ServicePolicy?) {
        var id: UInt64 = 0
        var policy: ServicePolicy? = nil
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: id = try value.uint64
            case 2: policy = try Self.policy(value.bytes)
            default: break
            }
        }
        return (id, policy)
    }

    static func policy(_ message: ByteBuffer) throws(ProtobufError) -> ServicePolicy {
        var namespace = "", name = "", port = 0
        var routes: [Route] = []
        var defaultRule: RouteRule? = nil
        var accrual: FailureAccrual? = nil
        var budget: RetryBudget.Settings? = nil
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: namespace = try value.string
            case 2: name = try value.string
            case 3: port = Int(try value.uint32)
            case 4: routes.append(try Self.route(value.bytes))
            case 5: defaultRule = try Self.rule(value.bytes)
            case 6:
                var decoded = FailureAccrual()
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: decoded.maxFailures = Int(try value.uint32)
                    case 2: decoded.minPenalty = try value.int64
                    case 3: decoded.maxPenalty = try value.int64
                    case 4: decoded.jitterRatio = try value.double
                    default: break
                    }
                }
                accrual = decoded
            case 7:
                var decoded = RetryBudget.Settings()
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: decoded.ratio = try value.double
                    case 2: decoded.perSecond = try value.double
                    case 3: decoded.window = max(1, Int(try value.uint32))
                    default: break
                    }
                }
                budget = decoded
            default: break
            }
        }
        return ServicePolicy(
            namespace: namespace, name: name, port: port, routes: routes, defaultRule: defaultRule, accrual: accrual, budget: budget)
    }

    static func route(_ message: ByteBuffer) throws(ProtobufError) -> Route {
        var route = Route(kind: .http, namespace: "", name: "", rules: [])
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: route.kind = try value.uint64 == 1 ? .grpc : .http
            case 2: route.namespace = try value.string
            case 3: route.name = try value.string
            case 4: route.created = try value.int64
            case 5:
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: route.hostnames.append(.exact(try value.string))
                    case 2: route.hostnames.append(.wildcard(try value.string))
                    default: break
                    }
                }
            case 6: route.rules.append(try Self.rule(value.bytes))
            default: break
            }
        }
        return route
    }

    static func rule(_ message: ByteBuffer) throws(ProtobufError) -> RouteRule {
        var http: [HTTPRouteMatch] = []
        var grpc: [GRPCRouteMatch] = []
        var isGRPC = false
        var filters: [RouteFilter] = []
        var backends: [RouteBackend] = []
        var timeouts = RouteTimeouts()
        var retry: RouteRetry? = nil
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: http.append(try Self.httpMatch(value.bytes))
            case 2: grpc.append(try Self.grpcMatch(value.bytes))
            case 3: isGRPC = try value.bool
            case 4: filters.append(try Self.filter(value.bytes))
            case 5: backends.append(try Self.backend(value.bytes))
            case 6:
                var request: Int64 = 0, backendRequest: Int64 = 0, idle: Int64 = 0
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: request = try value.int64
                    case 2: backendRequest = try value.int64
                    case 3: idle = try value.int64
                    default: break
                    }
                }
                timeouts = RouteTimeouts(request: request, backendRequest: backendRequest, idle: idle)
            case 7: retry = try Self.retry(value.bytes)
            default: break
            }
        }
        return RouteRule(
            matches: isGRPC ? .grpc(grpc) : .http(http), filters: filters, backends: backends, timeouts: timeouts, retry: retry)
    }

    static func retry(_ message: ByteBuffer) throws(ProtobufError) -> RouteRetry {
        var statuses: [ClosedRange<Int>] = []
        var codes: Set<Int> = []
        var limit = 0
        var backoff: Int64 = 0, timeout: Int64 = 0
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1:
                var low = 0, high = 0
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    if field == 1 { low = Int(try value.uint32) } else if field == 2 { high = Int(try value.uint32) }
                }
                guard low <= high else { throw ProtobufError("a status range from \(low) to \(high)") }
                statuses.append(low...high)
            case 2: for code in try value.packedVarints { codes.insert(Int(truncatingIfNeeded: code)) }
            case 3: limit = Int(try value.uint32)
            case 4: backoff = try value.int64
            case 5: timeout = try value.int64
            default: break
            }
        }
        return RouteRetry(statuses: statuses, grpcCodes: codes, limit: limit, backoff: backoff, timeout: timeout == 0 ? nil : timeout)
    }

    static func valueMatch(_ message: ByteBuffer) throws(ProtobufError) -> RouteValueMatch {
        var match = RouteValueMatch.exact("")
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: match = .exact(try value.string)
            case 2: match = .regularExpression(try Self.regex(value.string))
            default: break
            }
        }
        return match
    }

    static func regex(_ pattern: String) throws(ProtobufError) -> RouteRegex {
        do {
            return try RouteRegex(pattern)
        } catch {
            throw ProtobufError(error.message)
        }
    }

    static func headerMatch(_ message: ByteBuffer) throws(ProtobufError) -> (String, RouteValueMatch) {
        var name = ""
        var match = RouteValueMatch.exact("")
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: name = try value.string
            case 2: match = try Self.valueMatch(value.bytes)
            default: break
            }
        }
        return (name, match)
    }

    static func httpMatch(_ message: ByteBuffer) throws(ProtobufError) -> HTTPRouteMatch {
        var path = HTTPPathMatch.everything
        var method: String? = nil
        var headers: [RouteHeaderMatch] = []
        var query: [RouteQueryMatch] = []
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1:
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: path = .exact(try value.string)
                    case 2: path = .prefix(try value.string)
                    case 3: path = .regularExpression(try Self.regex(value.string))
                    default: break
                    }
                }
            case 2:
                let text = try value.string
                method = text.isEmpty ? nil : text
            case 3:
                let (name, match) = try Self.headerMatch(value.bytes)
                headers.append(RouteHeaderMatch(name: name, value: match))
            case 4:
                let (name, match) = try Self.headerMatch(value.bytes)
                query.append(RouteQueryMatch(name: name, value: match))
            default: break
            }
        }
        return HTTPRouteMatch(path: path, method: method, headers: headers, queryParams: query)
    }

    static func grpcMatch(_ message: ByteBuffer) throws(ProtobufError) -> GRPCRouteMatch {
        var match = GRPCRouteMatch()
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: match.service = try Self.valueMatch(value.bytes)
            case 2: match.method = try Self.valueMatch(value.bytes)
            case 3:
                let (name, value) = try Self.headerMatch(value.bytes)
                match.headers.append(RouteHeaderMatch(name: name, value: value))
            default: break
            }
        }
        return match
    }

    static func backend(_ message: ByteBuffer) throws(ProtobufError) -> RouteBackend {
        var backend = RouteBackend(namespace: "", name: "", port: nil, weight: 0)
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: backend.namespace = try value.string
            case 2: backend.name = try value.string
            case 3:
                let port = try value.uint32
                guard port <= 65535 else { throw ProtobufError("port \(port) is out of range") }
                backend.port = port == 0 ? nil : Int(port)
            case 4: backend.weight = Int(try value.uint32)
            case 5:
                let reason = try value.string
                backend.unresolved = reason.isEmpty ? nil : reason
            case 6: backend.filters.append(try Self.filter(value.bytes))
            default: break
            }
        }
        return backend
    }

    static func headerModifier(_ message: ByteBuffer) throws(ProtobufError) -> RouteFilter.HeaderModifier {
        var set: [HTTPFieldPair] = [], add: [HTTPFieldPair] = [], remove: [String] = []
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1, 2:
                var pair = HTTPFieldPair(name: "", value: "")
                try Self.fields(value.bytes) { inner, value throws(ProtobufError) in
                    if inner == 1 { pair.name = try value.string } else if inner == 2 { pair.value = try value.string }
                }
                if field == 1 { set.append(pair) } else { add.append(pair) }
            case 3: remove.append(try value.string)
            default: break
            }
        }
        return RouteFilter.HeaderModifier(set: set, add: add, remove: remove)
    }

    static func pathModifier(_ message: ByteBuffer) throws(ProtobufError) -> RouteFilter.PathModifier? {
        var modifier: RouteFilter.PathModifier? = nil
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: modifier = .replaceFullPath(try value.string)
            case 2: modifier = .replacePrefixMatch(try value.string)
            default: break
            }
        }
        return modifier
    }

    /// `nil` for a filter of a kind this proxy does not know (a newer controller): answered like an unresolved
    /// extension, with a 500, rather than skipped.
    static func filter(_ message: ByteBuffer) throws(ProtobufError) -> RouteFilter {
        var filter: RouteFilter = .extensionRef(group: "", kind: "unknown", name: "")
        try Self.fields(message) { field, value throws(ProtobufError) in
            switch field {
            case 1: filter = .requestHeaderModifier(try Self.headerModifier(value.bytes))
            case 2: filter = .responseHeaderModifier(try Self.headerModifier(value.bytes))
            case 3:
                var redirect = RouteFilter.Redirect()
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: redirect.scheme = try Self.optional(value.string)
                    case 2: redirect.hostname = try Self.optional(value.string)
                    case 3: redirect.path = try Self.pathModifier(value.bytes)
                    case 4: redirect.port = try Self.optionalPort(value.uint32)
                    case 5: redirect.statusCode = Int(try value.uint32)
                    default: break
                    }
                }
                filter = .requestRedirect(redirect)
            case 4:
                var rewrite = RouteFilter.Rewrite()
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: rewrite.hostname = try Self.optional(value.string)
                    case 2: rewrite.path = try Self.pathModifier(value.bytes)
                    default: break
                    }
                }
                filter = .urlRewrite(rewrite)
            case 5:
                var backend = RouteBackend(namespace: "", name: "", port: nil)
                var percent = 0.0
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: backend = try Self.backend(value.bytes)
                    case 2: percent = try value.double
                    default: break
                    }
                }
                filter = .requestMirror(backend, percent: percent)
            case 6:
                var fault = RouteFault()
                try Self.fields(value.bytes) { field, value throws(ProtobufError) in
                    switch field {
                    case 1: fault.abortPercent = try value.double
                    case 2: fault.abortStatus = Int(try value.uint32)
                    case 3:
                        let code = try value.uint32
                        fault.abortGRPCStatus = code == 0 ? nil : Int(code)
                    case 4: fault.delayPercent = try value.double
                    case 5: fault.delay = try value.int64
                    default: break
                    }
                }
                filter = .fault(fault)
            case 7:
                let parts = try value.string.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                filter = .extensionRef(
                    group: parts.first ?? "", kind: parts.count > 1 ? parts[1] : "", name: parts.count > 2 ? parts[2] : "")
            default: break
            }
        }
        return filter
    }

    private static func optional(_ text: String) -> String? { text.isEmpty ? nil : text }

    private static func optionalPort(_ port: UInt32) throws(ProtobufError) -> Int? {
        guard port <= 65535 else { throw ProtobufError("port \(port) is out of range") }
        return port == 0 ? nil : Int(port)
    }

    /// Calls `body` with each field of `message`.
    private static func fields(_ message: ByteBuffer, _ body: (Int, ProtobufReader.Value) throws(ProtobufError) -> Void)
        throws(ProtobufError)
    {
        var reader = ProtobufReader(message)
        while let (field, value) = try reader.next() { try body(field, value) }
    }
}
