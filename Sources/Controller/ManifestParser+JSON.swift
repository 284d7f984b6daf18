import Foundation
import Kubernetes

extension ManifestParser {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // One key per line, in order: an error's line number points into this text, which a log shows.
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// An object from the API (a list's item or a watch's), read exactly as the same object in a manifest file would
    /// be: JSON is YAML, so Services' annotations and routes are checked by one parser whichever source they come
    /// from. `name` stands where a file name would (`HTTPRoute default/web`).
    public static func object(json: JSONValue, name: String) throws(ManifestError) -> ClusterObject? {
        let text: String
        do {
            text = String(decoding: try Self.encoder.encode(json), as: UTF8.self)
        } catch {
            throw ManifestError(.syntax, file: name, line: 0, "cannot encode the object: \(error)")
        }
        return try Self.parse(text, file: name).first
    }
}
