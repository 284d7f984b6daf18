/// A query parameter match of an HTTPRoute: the name is case-sensitive; a parameter given more than once is matched
/// by its first value.
public struct RouteQueryMatch: Hashable, Sendable {
    public var name: String
    public var value: RouteValueMatch

    public init(name: String, value: RouteValueMatch) {
        self.name = name
        self.value = value
    }
}
