import MeshModel
import SwiftletAPI

/// `ServicePolicy` as the Policy API's messages (durations in nanoseconds, absent values as zero or empty).
enum PolicyMessages {
    static func message(_ policy: ServicePolicy) -> Swiftlet_Policy_V1_ServicePolicy {
        .with {
            $0.namespace = policy.namespace
            $0.name = policy.name
            $0.port = UInt32(policy.port)
            $0.routes = policy.routes.map(Self.route)
            $0.defaultRule = Self.rule(policy.defaultRule)
            if let accrual = policy.accrual {
                $0.accrual = .with {
                    $0.maxFailures = UInt32(accrual.maxFailures)
                    $0.minPenalty = accrual.minPenalty
                    $0.maxPenalty = accrual.maxPenalty
                    $0.jitterRatio = accrual.jitterRatio
                }
            }
            if let budget = policy.budget {
                $0.budget = .with {
                    $0.ratio = budget.ratio
                    $0.perSecond = budget.perSecond
                    $0.windowSeconds = UInt32(budget.window)
                }
            }
        }
    }

    static func route(_ route: Route) -> Swiftlet_Policy_V1_Route {
        .with {
            $0.kind = route.kind == .grpc ? .grpc : .http
            $0.namespace = route.namespace
            $0.name = route.name
            $0.created = route.created
            $0.hostnames = route.hostnames.map { hostname in
                .with {
                    switch hostname {
                    case .exact(let name): $0.exact = name
                    case .wildcard(let suffix): $0.wildcardSuffix = suffix
                    }
                }
            }
            $0.rules = route.rules.map(Self.rule)
        }
    }

    static func rule(_ rule: RouteRule) -> Swiftlet_Policy_V1_Rule {
        .with {
            switch rule.matches {
            case .http(let matches):
                $0.httpMatches = matches.map(Self.httpMatch)
            case .grpc(let matches):
                $0.isGrpc = true
                $0.grpcMatches = matches.map(Self.grpcMatch)
            }
            $0.filters = rule.filters.map(Self.filter)
            $0.backends = rule.backends.map(Self.backend)
            $0.timeouts = .with {
                $0.request = rule.timeouts.request ?? 0
                $0.backendRequest = rule.timeouts.backendRequest ?? 0
                $0.idle = rule.timeouts.idle ?? 0
            }
            if let retry = rule.retry {
                $0.retry = .with {
                    $0.statuses = retry.statuses.map { range in
                        .with {
                            $0.low = UInt32(range.lowerBound)
                            $0.high = UInt32(range.upperBound)
                        }
                    }
                    $0.grpcCodes = retry.grpcCodes.sorted().map(UInt32.init)
                    $0.limit = UInt32(retry.limit)
                    $0.backoff = retry.backoff
                    $0.timeout = retry.timeout ?? 0
                }
            }
        }
    }

    static func value(_ match: RouteValueMatch) -> Swiftlet_Policy_V1_ValueMatch {
        .with {
            switch match {
            case .exact(let value): $0.exact = value
            case .regularExpression(let regex): $0.regex = regex.pattern
            }
        }
    }

    static func header(_ name: String, _ value: RouteValueMatch) -> Swiftlet_Policy_V1_HeaderMatch {
        .with {
            $0.name = name
            $0.value = Self.value(value)
        }
    }

    static func httpMatch(_ match: HTTPRouteMatch) -> Swiftlet_Policy_V1_HttpMatch {
        .with {
            $0.path = .with {
                switch match.path {
                case .exact(let path): $0.exact = path
                case .prefix(let prefix): $0.prefix = prefix
                case .regularExpression(let regex): $0.regex = regex.pattern
                }
            }
            $0.method = match.method ?? ""
            $0.headers = match.headers.map { Self.header($0.name, $0.value) }
            $0.queryParams = match.queryParams.map { Self.header($0.name, $0.value) }
        }
    }

    static func grpcMatch(_ match: GRPCRouteMatch) -> Swiftlet_Policy_V1_GrpcMatch {
        .with {
            if let service = match.service { $0.service = Self.value(service) }
            if let method = match.method { $0.method = Self.value(method) }
            $0.headers = match.headers.map { Self.header($0.name, $0.value) }
        }
    }

    static func backend(_ backend: RouteBackend) -> Swiftlet_Policy_V1_Backend {
        .with {
            $0.namespace = backend.namespace
            $0.name = backend.name
            $0.port = UInt32(backend.port ?? 0)
            $0.weight = UInt32(backend.weight)
            $0.unresolved = backend.unresolved ?? ""
            $0.filters = backend.filters.map(Self.filter)
        }
    }

    static func pathModifier(_ modifier: RouteFilter.PathModifier) -> Swiftlet_Policy_V1_PathModifier {
        .with {
            switch modifier {
            case .replaceFullPath(let path): $0.replaceFullPath = path
            case .replacePrefixMatch(let prefix): $0.replacePrefixMatch = prefix
            }
        }
    }

    static func headerModifier(_ modifier: RouteFilter.HeaderModifier) -> Swiftlet_Policy_V1_HeaderModifier {
        func headers(_ pairs: [HTTPFieldPair]) -> [Swiftlet_Policy_V1_Header] {
            pairs.map { pair in
                .with {
                    $0.name = pair.name
                    $0.value = pair.value
                }
            }
        }
        return .with {
            $0.set = headers(modifier.set)
            $0.add = headers(modifier.add)
            $0.remove = modifier.remove
        }
    }

    static func filter(_ filter: RouteFilter) -> Swiftlet_Policy_V1_Filter {
        .with {
            switch filter {
            case .requestHeaderModifier(let modifier): $0.requestHeaderModifier = Self.headerModifier(modifier)
            case .responseHeaderModifier(let modifier): $0.responseHeaderModifier = Self.headerModifier(modifier)
            case .requestRedirect(let redirect):
                $0.requestRedirect = .with {
                    $0.scheme = redirect.scheme ?? ""
                    $0.hostname = redirect.hostname ?? ""
                    if let path = redirect.path { $0.path = Self.pathModifier(path) }
                    $0.port = UInt32(redirect.port ?? 0)
                    $0.statusCode = UInt32(redirect.statusCode)
                }
            case .urlRewrite(let rewrite):
                $0.urlRewrite = .with {
                    $0.hostname = rewrite.hostname ?? ""
                    if let path = rewrite.path { $0.path = Self.pathModifier(path) }
                }
            case .requestMirror(let backend, let percent):
                $0.requestMirror = .with {
                    $0.backend = Self.backend(backend)
                    $0.percent = percent
                }
            case .fault(let fault):
                $0.fault = .with {
                    $0.abortPercent = fault.abortPercent
                    $0.abortStatus = UInt32(fault.abortStatus)
                    $0.abortGrpcStatus = UInt32(fault.abortGRPCStatus ?? 0)
                    $0.delayPercent = fault.delayPercent
                    $0.delay = fault.delay
                }
            case .extensionRef(let group, let kind, let name):
                $0.unresolvedExtension = "\(group)/\(kind)/\(name)"
            }
        }
    }
}
