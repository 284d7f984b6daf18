/// A header match of an HTTPRoute or GRPCRoute: the name is case-insensitive (stored lower-cased), the value
/// case-sensitive. A field sent more than once matches when one of its values does, or all of them joined with
/// `,` (the form a proxy that folded them would forward).
public struct RouteHeaderMatch: Hashable, Sendable {
    public var name: String
    public var value: RouteValueMatch

    public init(name: String, value: RouteValueMatch) {
        self.name = name.lowercased()
        self.value = value
    }

    public func matches(_ fields: HTTPFields) -> Bool {
        let values = fields.values(self.name)
        if values.isEmpty { return false }
        if values.contains(where: { self.value.matches($0[...]) }) { return true }
        return values.count > 1 && self.value.matches(values.joined(separator: ",")[...])
    }
}
