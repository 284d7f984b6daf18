/// When a try is retried, and how often. From a rule's `retry` (Gateway API) or the `retry.swiftlet.io/*`
/// annotations of the route or its Service.
public struct RouteRetry: Hashable, Sendable {
    /// HTTP statuses that are retried (`retry.swiftlet.io/http: 5xx,429`; the rule's `codes`).
    public var statuses: [ClosedRange<Int>]
    /// gRPC status codes that are retried (`retry.swiftlet.io/grpc: unavailable,internal`).
    public var grpcCodes: Set<Int>
    /// Retries after the first try (`retry.swiftlet.io/limit`; the rule's `attempts` counts them the same way).
    public var limit: Int
    /// The first backoff, nanoseconds; each later one doubles, up to ten times it, with full jitter.
    public var backoff: Int64
    /// Each try's own timeout (`retry.swiftlet.io/timeout`), nanoseconds.
    public var timeout: Int64?

    public static let defaultBackoff: Int64 = 25_000_000

    public init(statuses: [ClosedRange<Int>] = [], grpcCodes: Set<Int> = [], limit: Int = 1, backoff: Int64? = nil, timeout: Int64? = nil) {
        self.statuses = statuses
        self.grpcCodes = grpcCodes
        self.limit = limit
        self.backoff = backoff ?? Self.defaultBackoff
        self.timeout = timeout
    }

    public func retries(status: Int) -> Bool { self.statuses.contains { $0.contains(status) } }

    /// `5xx`, `gateway-error` (502–504), `NNN`, `NNN-MMM`, comma separated.
    public static func parseStatuses(_ text: String) throws(RouteError) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for raw in text.split(separator: ",") {
            let item = raw.trimmingASCIISpaces()
            if item == "5xx" {
                ranges.append(500...599)
            } else if item == "gateway-error" {
                ranges.append(502...504)
            } else if let dash = item.firstIndex(of: "-"), let low = Int(item[..<dash]), let high = Int(item[item.index(after: dash)...]),
                (100...599).contains(low), (100...599).contains(high), low <= high
            {
                ranges.append(low...high)
            } else if let status = Int(item), (100...599).contains(status) {
                ranges.append(status...status)
            } else {
                throw RouteError(.invalidValue, "\"\(item)\" is not 5xx, gateway-error, a status or a range of statuses (NNN-MMM)")
            }
        }
        return ranges
    }

    /// gRPC code names, comma separated: `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`,
    /// `unavailable`.
    public static func parseGRPCCodes(_ text: String) throws(RouteError) -> Set<Int> {
        let names = ["cancelled": 1, "deadline-exceeded": 4, "internal": 13, "resource-exhausted": 8, "unavailable": 14]
        var codes: Set<Int> = []
        for raw in text.split(separator: ",") {
            let item = raw.trimmingASCIISpaces().lowercased()
            guard let code = names[item] else {
                throw RouteError(
                    .invalidValue, "\"\(item)\" is not one of cancelled, deadline-exceeded, internal, resource-exhausted, unavailable")
            }
            codes.insert(code)
        }
        return codes
    }
}
