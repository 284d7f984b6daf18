/// One route of `viz stat-outbound`, with its backends: figures nil where there was no traffic.
public struct RouteStatRow: Sendable, Equatable, Encodable {
    public struct Figures: Sendable, Equatable, Encodable {
        public var success: Double?
        public var rps: Double?
        public var latencyMsP50: Double?
        public var latencyMsP95: Double?
        public var latencyMsP99: Double?

        public init(
            success: Double? = nil, rps: Double? = nil, latencyMsP50: Double? = nil, latencyMsP95: Double? = nil,
            latencyMsP99: Double? = nil
        ) {
            self.success = success
            self.rps = rps
            self.latencyMsP50 = latencyMsP50
            self.latencyMsP95 = latencyMsP95
            self.latencyMsP99 = latencyMsP99
        }

        enum CodingKeys: String, CodingKey {
            case success, rps, latencyMsP50 = "latency_ms_p50", latencyMsP95 = "latency_ms_p95", latencyMsP99 = "latency_ms_p99"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.success, forKey: .success)
            try container.encode(self.rps, forKey: .rps)
            try container.encode(self.latencyMsP50, forKey: .latencyMsP50)
            try container.encode(self.latencyMsP95, forKey: .latencyMsP95)
            try container.encode(self.latencyMsP99, forKey: .latencyMsP99)
        }
    }

    public struct Backend: Sendable, Equatable, Encodable {
        public var namespace: String
        public var name: String
        public var port: String
        public var figures: Figures

        enum CodingKeys: String, CodingKey { case namespace, name, port, figures }
    }

    /// The parent Service and port (`voting:8080`).
    public var service: String
    public var serviceNamespace: String
    /// The route's name, or `[default]` for the Service's default route.
    public var route: String
    /// `HTTPRoute`, `GRPCRoute`, or empty for a default route.
    public var type: String
    public var figures: Figures
    /// Shares of the route's requests: those that timed out, and the retries sent.
    public var timeouts: Double?
    public var retries: Double?
    public var backends: [Backend]

    enum CodingKeys: String, CodingKey {
        case service, serviceNamespace = "service_namespace", route, type, figures, timeouts, retries, backends
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.service, forKey: .service)
        try container.encode(self.serviceNamespace, forKey: .serviceNamespace)
        try container.encode(self.route, forKey: .route)
        try container.encode(self.type, forKey: .type)
        try container.encode(self.figures, forKey: .figures)
        try container.encode(self.timeouts, forKey: .timeouts)
        try container.encode(self.retries, forKey: .retries)
        try container.encode(self.backends, forKey: .backends)
    }
}
