/// One page of a list (`PodList`, `ServiceList`, …): its items and the version they are consistent at.
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    private enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // The API sends `"items": null` for an empty list in some versions.
        self.items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}
