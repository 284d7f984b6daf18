/// Where a kind of object lives in the API: `/api/v1/pods`, `/apis/discovery.k8s.io/v1/endpointslices`, optionally
/// within one namespace.
public struct ResourcePath: Hashable, Sendable, CustomStringConvertible {
    /// Empty for the core group.
    public var group: String
    public var version: String
    public var plural: String
    public var namespace: String?

    public init(group: String, version: String, plural: String, namespace: String? = nil) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespace = namespace
    }

    public static let pods = ResourcePath(group: "", version: "v1", plural: "pods")
    public static let services = ResourcePath(group: "", version: "v1", plural: "services")
    public static let secrets = ResourcePath(group: "", version: "v1", plural: "secrets")
    public static let configMaps = ResourcePath(group: "", version: "v1", plural: "configmaps")
    public static let namespaces = ResourcePath(group: "", version: "v1", plural: "namespaces")
    public static let endpointSlices = ResourcePath(group: "discovery.k8s.io", version: "v1", plural: "endpointslices")
    public static let httpRoutes = ResourcePath(group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes")
    public static let grpcRoutes = ResourcePath(group: "gateway.networking.k8s.io", version: "v1", plural: "grpcroutes")
    public static let customResourceDefinitions = ResourcePath(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions")
    public static let mutatingWebhookConfigurations = ResourcePath(
        group: "admissionregistration.k8s.io", version: "v1", plural: "mutatingwebhookconfigurations"
    )

    public func inNamespace(_ namespace: String?) -> ResourcePath {
        var path = self
        path.namespace = namespace
        return path
    }

    /// The collection's path; with `name`, the object's.
    public func path(name: String? = nil) -> String {
        var path = self.group.isEmpty ? "/api/\(self.version)" : "/apis/\(self.group)/\(self.version)"
        if let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(self.plural)"
        if let name { path += "/\(name)" }
        return path
    }

    public var description: String { self.group.isEmpty ? self.plural : "\(self.plural).\(self.group)" }
}
