/// Why the identity service refused a request or could not load its credentials. Compared by `code`; the message
/// says what a person needs to fix it.
public struct IdentityError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { self.name }

        /// The token does not prove the service account the identity names.
        public static let unauthenticated = Code(name: "unauthenticated")
        /// The identity is not one of this mesh's names.
        public static let invalidIdentity = Code(name: "invalid_identity")
        /// The CSR does not parse, its signature is wrong, or it names something other than the identity.
        public static let invalidRequest = Code(name: "invalid_request")
        /// The trust anchors, issuer certificate or issuer key are missing, malformed, or do not fit together.
        public static let invalidCredentials = Code(name: "invalid_credentials")
        /// What checks the token (the Kubernetes API) could not be asked: try again.
        public static let unavailable = Code(name: "unavailable")
        /// Signing failed.
        public static let internalError = Code(name: "internal")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
