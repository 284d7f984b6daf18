/// The `metadata` every Kubernetes object carries, as far as the mesh reads it.
public struct ObjectMeta: Codable, Hashable, Sendable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }

    /// The reference to the object that manages this one (`controller: true`), if any.
    public var controller: OwnerReference? { self.ownerReferences?.first { $0.controller == true } }
}

/// An `ownerReferences` entry: the object that created and manages this one (a Pod's ReplicaSet, a Job's CronJob).
public struct OwnerReference: Codable, Hashable, Sendable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
    }
}

/// A list's `metadata`: the version the list is consistent at, and where the next page starts.
public struct ListMeta: Codable, Hashable, Sendable {
    public var resourceVersion: String?
    public var `continue`: String?
}

/// What every object the client lists and watches has: its metadata.
public protocol KubernetesObject: Decodable, Sendable {
    var metadata: ObjectMeta { get }

    /// Gives an item of a list the List's kind and apiVersion when it has none of its own (the API leaves them out
    /// of built-in kinds' items). Types that do not keep them ignore it.
    mutating func inheritType(kind: String, apiVersion: String)
}

extension KubernetesObject {
    public mutating func inheritType(kind: String, apiVersion: String) {}
}
