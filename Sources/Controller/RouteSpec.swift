import MeshModel

/// An `HTTPRoute` or `GRPCRoute` (`gateway.networking.k8s.io/v1`) as read from a manifest: the route the proxies
/// get, the Services it attaches to, and where in its file each reference was written, for reporting.
public struct RouteSpec: Hashable, Sendable {
    /// A `parentRefs` entry naming a Service (the GAMMA mesh profile): the route applies to traffic for that
    /// Service, on `port` only when given.
    public struct Parent: Hashable, Sendable {
        public var service: ObjectKey
        public var port: Int?

        public init(service: ObjectKey, port: Int? = nil) {
            self.service = service
            self.port = port
        }
    }

    public var key: ObjectKey
    public var kind: Route.Kind
    public var parents: [Parent]
    /// `parentRefs` that are not Services (a Gateway's, say): not the mesh's business, reported once.
    public var otherParents: [String]
    /// The route with its rules; `created` is set by the source (a cluster's `creationTimestamp`, or the order in
    /// which a directory first showed the route).
    public var route: Route
    /// Where the document starts, and the line of each backend reference (`namespace/name:port` → first line), so that
    /// an unknown backend can be reported where it was written.
    public var file: String
    public var line: Int
    public var backendLines: [String: Int]
    /// `metadata.creationTimestamp` when the document has one (seconds since 1970).
    public var creationTimestamp: Int64?

    public init(
        key: ObjectKey, kind: Route.Kind, parents: [Parent], otherParents: [String] = [], route: Route, file: String = "", line: Int = 1,
        backendLines: [String: Int] = [:], creationTimestamp: Int64? = nil
    ) {
        self.key = key
        self.kind = kind
        self.parents = parents
        self.otherParents = otherParents
        self.route = route
        self.file = file
        self.line = line
        self.backendLines = backendLines
        self.creationTimestamp = creationTimestamp
    }

    /// HTTPRoutes and GRPCRoutes are kinds of their own: the same name may be both.
    public var objectID: RouteObjectID { RouteObjectID(kind: self.kind, key: self.key) }
}

/// Identifies a route among routes of both kinds.
public struct RouteObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: Route.Kind
    public var key: ObjectKey

    public init(kind: Route.Kind, key: ObjectKey) {
        self.kind = kind
        self.key = key
    }

    public var description: String { "\(self.kind.rawValue) \(self.key)" }

    public static func < (a: RouteObjectID, b: RouteObjectID) -> Bool {
        (a.key, a.kind.rawValue) < (b.key, b.kind.rawValue)
    }
}
