/// One line of a watch: an object added, changed or deleted, a bookmark (only a newer resourceVersion to resume
/// from), or an error (a `Status`; 410 means the version is too old and the caller must list again).
public enum WatchEvent<Object: KubernetesObject>: Decodable, Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    case bookmark(resourceVersion: String)
    case error(APIStatus)

    private enum CodingKeys: String, CodingKey { case type, object }
    private struct Bookmark: Decodable { var metadata: ListMeta }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": self = .added(try container.decode(Object.self, forKey: .object))
        case "MODIFIED": self = .modified(try container.decode(Object.self, forKey: .object))
        case "DELETED": self = .deleted(try container.decode(Object.self, forKey: .object))
        case "BOOKMARK":
            let bookmark = try container.decode(Bookmark.self, forKey: .object)
            self = .bookmark(resourceVersion: bookmark.metadata.resourceVersion ?? "")
        case "ERROR": self = .error(try container.decode(APIStatus.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown watch event type \(type)")
        }
    }

    /// The version the watch has reached with this event, if it says.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let version): version
        case .error: nil
        }
    }
}
