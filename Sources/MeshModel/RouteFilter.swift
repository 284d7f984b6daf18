/// What a rule (or one of its backends) does to a request or its response on the way through.
public enum RouteFilter: Hashable, Sendable {
    case requestHeaderModifier(HeaderModifier)
    case responseHeaderModifier(HeaderModifier)
    case requestRedirect(Redirect)
    case urlRewrite(Rewrite)
    /// A copy of each request goes to this backend too; its answer is dropped. `percent` of requests, 100 when not given.
    case requestMirror(RouteBackend, percent: Double)
    /// A `FaultInjection` object of ours, named by an `ExtensionRef` filter.
    case fault(RouteFault)
    /// An `ExtensionRef` as written (`FaultInjection` in the route's namespace), before the controller resolves it
    /// to `.fault`. One that names nothing stays so: the Gateway API says its requests get a 500, never a skipped filter.
    case extensionRef(group: String, kind: String, name: String)

    /// `set` replaces (or adds) a field, `add` appends a value, `remove` drops a field. Names are case-insensitive.
    public struct HeaderModifier: Hashable, Sendable {
        public var set: [HTTPFieldPair]
        public var add: [HTTPFieldPair]
        public var remove: [String]

        public init(set: [HTTPFieldPair] = [], add: [HTTPFieldPair] = [], remove: [String] = []) {
            self.set = set
            self.add = add
            self.remove = remove.map { $0.lowercased() }
        }
    }

    /// How a redirect or a rewrite changes the path: the whole path, or the part the rule's `PathPrefix` matched.
    public enum PathModifier: Hashable, Sendable {
        case replaceFullPath(String)
        case replacePrefixMatch(String)
    }

    public struct Redirect: Hashable, Sendable {
        public var scheme: String?
        public var hostname: String?
        public var path: PathModifier?
        public var port: Int?
        /// 302 (the Gateway API's default) or 301; 303, 307 and 308 too (its extended support).
        public var statusCode: Int

        public init(scheme: String? = nil, hostname: String? = nil, path: PathModifier? = nil, port: Int? = nil, statusCode: Int = 302) {
            self.scheme = scheme
            self.hostname = hostname
            self.path = path
            self.port = port
            self.statusCode = statusCode
        }
    }

    public struct Rewrite: Hashable, Sendable {
        public var hostname: String?
        public var path: PathModifier?

        public init(hostname: String? = nil, path: PathModifier? = nil) {
            self.hostname = hostname
            self.path = path
        }
    }
}

/// A header field a filter sets or adds.
public struct HTTPFieldPair: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Our `FaultInjection` (`policy.swiftlet.io/v1alpha1`): abort a share of requests with a status, delay a share by
/// a duration. Shares are percentages (0–100, fractions allowed).
public struct RouteFault: Hashable, Sendable {
    /// What the fault does to one request: abort it, delay it, or neither. The abort is drawn first; a request not
    /// aborted may be delayed.
    public enum Draw: Equatable, Sendable {
        case abort(status: Int, grpcStatus: Int?)
        /// Nanoseconds.
        case delay(Int64)
        case none
    }

    public var abortPercent: Double
    public var abortStatus: Int
    /// For gRPC calls: answered with this `grpc-status` in a trailers-only response instead of `abortStatus`.
    public var abortGRPCStatus: Int?
    public var delayPercent: Double
    /// Nanoseconds.
    public var delay: Int64

    public init(abortPercent: Double = 0, abortStatus: Int = 503, abortGRPCStatus: Int? = nil, delayPercent: Double = 0, delay: Int64 = 0) {
        self.abortPercent = abortPercent
        self.abortStatus = abortStatus
        self.abortGRPCStatus = abortGRPCStatus
        self.delayPercent = delayPercent
        self.delay = delay
    }

    public func draw(using random: inout some RandomNumberGenerator) -> Draw {
        if self.abortPercent > 0, Double.random(in: 0..<100, using: &random) < self.abortPercent {
            return .abort(status: self.abortStatus, grpcStatus: self.abortGRPCStatus)
        }
        if self.delayPercent > 0, self.delay > 0, Double.random(in: 0..<100, using: &random) < self.delayPercent {
            return .delay(self.delay)
        }
        return .none
    }
}
