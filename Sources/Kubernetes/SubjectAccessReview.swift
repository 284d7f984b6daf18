/// `authorization.k8s.io/v1 SubjectAccessReview`: asks the API server's authorizers (RBAC and any other) whether a
/// user may do something. An aggregated API server asks it for the users the API server forwards to it.
public struct SubjectAccessReview: Codable, Sendable {
    public struct ResourceAttributes: Codable, Sendable, Equatable {
        public var namespace: String?
        public var verb: String
        public var group: String?
        public var version: String?
        public var resource: String
        public var subresource: String?
        public var name: String?

        public init(
            namespace: String?, verb: String, group: String?, version: String?, resource: String, subresource: String?, name: String?
        ) {
            self.namespace = namespace
            self.verb = verb
            self.group = group
            self.version = version
            self.resource = resource
            self.subresource = subresource
            self.name = name
        }
    }

    public struct Spec: Codable, Sendable {
        public var resourceAttributes: ResourceAttributes
        public var user: String
        public var groups: [String]?
        public var extra: [String: [String]]?
        public var uid: String?
    }

    /// A denial comes as `{"allowed": false}` alone; an allowance with RBAC's reason.
    public struct Status: Codable, Sendable {
        public var allowed: Bool
        public var denied: Bool?
        public var reason: String?
        public var evaluationError: String?
    }

    public var apiVersion = "authorization.k8s.io/v1"
    public var kind = "SubjectAccessReview"
    public var spec: Spec
    public var status: Status?

    public init(user: String, groups: [String], extra: [String: [String]], uid: String?, attributes: ResourceAttributes) {
        self.spec = Spec(
            resourceAttributes: attributes, user: user, groups: groups.isEmpty ? nil : groups, extra: extra.isEmpty ? nil : extra, uid: uid)
    }

    public static let path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
}
