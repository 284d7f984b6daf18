/// A gRPC call that did not end with status OK: the server's status, or the client's reason for giving up.
public struct GRPCStatusError: Error, Hashable, Sendable, CustomStringConvertible {
    /// gRPC's status codes (the ones this client meets); compared by value.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int

        public init(rawValue: Int) {
            self.rawValue = rawValue
        }

        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let unimplemented = Code(rawValue: 12)
        public static let internalError = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let unauthenticated = Code(rawValue: 16)

        public var description: String {
            switch self.rawValue {
            case 0: "ok"
            case 1: "cancelled"
            case 2: "unknown"
            case 3: "invalid argument"
            case 4: "deadline exceeded"
            case 5: "not found"
            case 7: "permission denied"
            case 8: "resource exhausted"
            case 12: "unimplemented"
            case 13: "internal error"
            case 14: "unavailable"
            case 16: "unauthenticated"
            default: "status \(self.rawValue)"
            }
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
