/// What went wrong talking to the Kubernetes API, with a code callers compare on.
public struct KubernetesError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { self.name }

        /// No usable configuration: no kubeconfig, no service-account files, a context that does not exist.
        public static let configuration = Code("configuration")
        /// The API answered with a status other than success; `status` holds it.
        public static let status = Code("status")
        /// The resourceVersion asked for is older than the API keeps (410 Gone): list again.
        public static let gone = Code("gone")
        /// An answer that does not decode as the object expected.
        public static let decoding = Code("decoding")
        /// The connection failed or was cut.
        public static let transport = Code("transport")
    }

    public var code: Code
    public var message: String
    /// The HTTP status, when the API answered.
    public var status: Int?
    /// What the API itself said (its `Status` message, or the body), when it answered: for a caller that words its
    /// own error around it.
    public var apiMessage: String?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, status: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.cause = cause
    }

    public var description: String {
        var text = "\(self.code): \(self.message)"
        if let status { text += " (HTTP \(status))" }
        if let cause { text += ": \(cause)" }
        return text
    }
}
