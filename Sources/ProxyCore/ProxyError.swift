/// A failure on the data path, turned into a response only at the edge.
///
/// Compared by `code`; the message says what happened in words a person reading the
/// `swiftlet-proxy-error` header or a log line can act on.
public struct ProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Dense index into per-code counter arrays (metrics update without a dictionary).
        public let index: Int
        /// The `error` label value in `*_errors_total` metrics.
        public let label: String
        /// The HTTP status the edge answers with.
        public let httpStatus: Int

        private init(_ index: Int, _ label: String, _ httpStatus: Int) {
            self.index = index
            self.label = label
            self.httpStatus = httpStatus
        }

        public static let connectionRefused = Code(0, "connection_refused", 502)
        public static let connectionReset = Code(1, "connection_reset", 502)
        public static let connectTimeout = Code(2, "connect_timeout", 504)
        public static let responseTimeout = Code(3, "response_timeout", 504)
        public static let noRoute = Code(4, "no_route", 503)
        public static let unresolvable = Code(5, "unresolvable", 503)
        public static let loopDetected = Code(6, "loop_detected", 502)
        public static let malformedRequest = Code(7, "malformed_request", 400)
        public static let upstreamProtocol = Code(8, "upstream_protocol", 502)
        public static let upstreamFailed = Code(9, "upstream_failed", 502)
        /// Discovery knows the service and it has no endpoint now.
        public static let noEndpoints = Code(10, "no_endpoints", 503)
        /// The TLS handshake with a meshed peer failed: an untrusted chain, an expired certificate, a refused one.
        public static let tlsHandshake = Code(11, "tls_handshake", 502)
        /// The peer's certificate is valid but names another identity than discovery gave for it.
        public static let identityMismatch = Code(12, "identity_mismatch", 502)
        /// mTLS is required and this proxy has no certificate yet.
        public static let notCertified = Code(13, "not_certified", 503)
        /// A request head larger than the proxy reads (64 KiB).
        public static let requestHeadTooLarge = Code(14, "request_head_too_large", 431)
        /// A request head that did not arrive whole within the header-read timeout: a slow or hostile client.
        public static let headerReadTimeout = Code(15, "header_read_timeout", 408)
        /// The route's `request` timeout ran out (retries included) before the response began.
        public static let requestTimeout = Code(16, "request_timeout", 504)
        /// Every endpoint of the backend is ejected by failure accrual: answered at once, not after a timeout.
        public static let circuitOpen = Code(17, "circuit_open", 503)
        /// The route cannot serve the request: a backend or filter that names nothing, no backend with a weight
        /// (the Gateway API answers these with 500).
        public static let routeUnresolved = Code(18, "route_unresolved", 500)
        /// Nothing moved in either direction for the route's idle timeout.
        public static let idleTimeout = Code(19, "idle_timeout", 504)
        /// Routes are attached to the Service's port and none matches the request (the Gateway API asks for 404).
        public static let routeNotFound = Code(20, "route_not_found", 404)
        /// A connection to the backend failed, and so did every retry the route allowed: the backend is
        /// unavailable, not misbehaving (503, as the Gateway API's retry conformance expects).
        public static let retriesExhausted = Code(21, "retries_exhausted", 503)

        public static let all: [Code] = [
            .connectionRefused, .connectionReset, .connectTimeout, .responseTimeout, .noRoute, .unresolvable,
            .loopDetected, .malformedRequest, .upstreamProtocol, .upstreamFailed, .noEndpoints, .tlsHandshake,
            .identityMismatch, .notCertified, .requestHeadTooLarge, .headerReadTimeout, .requestTimeout, .circuitOpen,
            .routeUnresolved, .idleTimeout, .routeNotFound, .retriesExhausted,
        ]

        public var description: String { self.label }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.index == rhs.index }
        public func hash(into hasher: inout Hasher) { hasher.combine(self.index) }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code.label): \(self.message)" }

    /// The gRPC status a gRPC client is answered with: a timeout is DEADLINE_EXCEEDED (4), as the client's own
    /// deadline would be; otherwise the gRPC spec's mapping of the HTTP status (UNAVAILABLE for 502–504, INTERNAL
    /// for 400 and 500, RESOURCE_EXHAUSTED for a head too large).
    public var grpcStatus: Int {
        switch self.code {
        case .requestTimeout, .responseTimeout, .connectTimeout, .idleTimeout: return 4
        case .requestHeadTooLarge: return 8
        case .routeNotFound: return 12  // UNIMPLEMENTED: what gRPC makes of a 404
        default: break
        }
        // UNAVAILABLE for 429 and 502–504, PERMISSION_DENIED for 403; INTERNAL for the rest (a gateway's own
        // failure, not the UNKNOWN an application's 500 maps to).
        let mapped = LocalResponse.grpcStatus(forHTTP: self.code.httpStatus)
        return mapped == 2 ? 13 : mapped
    }

    /// The value of the `swiftlet-proxy-error` response header: short, single-line, header-safe.
    public var headerValue: String {
        var text = self.description
        text.removeAll { $0 == "\r" || $0 == "\n" }
        return text.count > 200 ? String(text.prefix(200)) : text
    }
}
