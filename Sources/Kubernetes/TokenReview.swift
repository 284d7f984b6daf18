/// `authentication.k8s.io/v1 TokenReview`: asks the API server whether a token is valid for the audiences given,
/// and whose it is.
public struct TokenReview: Codable, Sendable {
    public struct Spec: Codable, Sendable {
        public var token: String
        public var audiences: [String]?
    }

    public struct Status: Codable, Sendable {
        public struct User: Codable, Sendable {
            public var username: String?
            public var uid: String?
            public var groups: [String]?
        }

        public var authenticated: Bool?
        public var user: User?
        public var audiences: [String]?
        public var error: String?
    }

    public var apiVersion = "authentication.k8s.io/v1"
    public var kind = "TokenReview"
    public var spec: Spec
    public var status: Status?

    public init(token: String, audiences: [String]) {
        self.spec = Spec(token: token, audiences: audiences)
    }

    public static let path = "/apis/authentication.k8s.io/v1/tokenreviews"
}
