/// One row of `viz stat`: a resource's golden metrics over the window. A figure is nil where there was no traffic
/// (the table prints `-`, the JSON `null`).
public struct StatRow: Sendable, Equatable, Encodable {
    public var namespace: String
    public var kind: String
    public var name: String
    /// `meshed/total` pods; `-` for a Service.
    public var meshed: String
    public var success: Double?
    public var rps: Double?
    public var latencyMsP50: Double?
    public var latencyMsP95: Double?
    public var latencyMsP99: Double?
    public var tcpOpenConnections: Int?
    /// Bytes per second, read and written by the resource's proxies on its connections.
    public var tcpReadBytesRate: Double?
    public var tcpWriteBytesRate: Double?

    public init(
        namespace: String, kind: String, name: String, meshed: String, success: Double? = nil, rps: Double? = nil,
        latencyMsP50: Double? = nil, latencyMsP95: Double? = nil, latencyMsP99: Double? = nil, tcpOpenConnections: Int? = nil,
        tcpReadBytesRate: Double? = nil, tcpWriteBytesRate: Double? = nil
    ) {
        self.namespace = namespace
        self.kind = kind
        self.name = name
        self.meshed = meshed
        self.success = success
        self.rps = rps
        self.latencyMsP50 = latencyMsP50
        self.latencyMsP95 = latencyMsP95
        self.latencyMsP99 = latencyMsP99
        self.tcpOpenConnections = tcpOpenConnections
        self.tcpReadBytesRate = tcpReadBytesRate
        self.tcpWriteBytesRate = tcpWriteBytesRate
    }

    enum CodingKeys: String, CodingKey {
        case namespace, kind, name, meshed, success, rps
        case latencyMsP50 = "latency_ms_p50", latencyMsP95 = "latency_ms_p95", latencyMsP99 = "latency_ms_p99"
        case tcpOpenConnections = "tcp_open_connections", tcpReadBytesRate = "tcp_read_bytes_rate"
        case tcpWriteBytesRate = "tcp_write_bytes_rate"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.namespace, forKey: .namespace)
        try container.encode(self.kind, forKey: .kind)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.meshed, forKey: .meshed)
        // Absent figures are null, not left out: every row has the same keys.
        try container.encode(self.success, forKey: .success)
        try container.encode(self.rps, forKey: .rps)
        try container.encode(self.latencyMsP50, forKey: .latencyMsP50)
        try container.encode(self.latencyMsP95, forKey: .latencyMsP95)
        try container.encode(self.latencyMsP99, forKey: .latencyMsP99)
        try container.encode(self.tcpOpenConnections, forKey: .tcpOpenConnections)
        try container.encode(self.tcpReadBytesRate, forKey: .tcpReadBytesRate)
        try container.encode(self.tcpWriteBytesRate, forKey: .tcpWriteBytesRate)
    }

    /// Whether any traffic was seen (a row with none shows only its inventory).
    public var hasTraffic: Bool { self.rps != nil || self.tcpOpenConnections != nil }
}
