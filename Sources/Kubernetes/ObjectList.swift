/// One page of a list (`PodList`, `ServiceList`, …): its items and the version they are consistent at.
///
/// In a real API server's list the items of built-in kinds carry no `kind` and no `apiVersion`: only the List says
/// them (custom resources' items do carry them). Items that read their kind from their own JSON get the List's, as
/// client-go sets each item's GroupVersionKind from its list.
public struct ObjectList<Item: KubernetesObject>: Decodable, Sendable {
    public var kind: String?
    public var apiVersion: String?
    public var metadata: ListMeta
    public var items: [Item]

    private enum CodingKeys: String, CodingKey { case kind, apiVersion, metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.kind = try container.decodeIfPresent(String.self, forKey: .kind)
        self.apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion)
        self.metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // The API sends `"items": null` for an empty list in some versions.
        self.items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
        if let kind = self.kind, kind.hasSuffix("List"), kind.count > 4, let apiVersion = self.apiVersion {
            let itemKind = String(kind.dropLast(4))
            for index in self.items.indices { self.items[index].inheritType(kind: itemKind, apiVersion: apiVersion) }
        }
    }
}
