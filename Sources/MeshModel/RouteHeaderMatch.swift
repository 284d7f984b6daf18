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
}
