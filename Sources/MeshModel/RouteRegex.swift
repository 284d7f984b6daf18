/// A regular expression from a route (a path, header, query or gRPC method match), compiled once when the route is
/// read and matched against the whole value: `/api/v[0-9]+` does not match `/api/v1/users`. Anchoring is what
/// users of Envoy- and Linkerd-based meshes expect (the Gateway API leaves the flavour to the implementation); a
/// pattern that wants a prefix says `/api/v[0-9]+/.*`.
///
/// `@unchecked Sendable`: `Regex` is an immutable value whose compiled program is created once, atomically, on
/// first use; the standard library does not mark it `Sendable` only because its output type may not be.
public struct RouteRegex: Hashable, @unchecked Sendable, CustomStringConvertible {
    public let pattern: String
    private let regex: Regex<AnyRegexOutput>

    /// Throws `RouteError` with the reason when `pattern` is not a valid expression.
    public init(_ pattern: String) throws(RouteError) {
        do {
            self.regex = try Regex(pattern)
        } catch {
            throw RouteError(.invalidRegex, "invalid regular expression \"\(pattern)\": \(error)")
        }
        self.pattern = pattern
    }

    public func matches(_ value: Substring) -> Bool {
        (try? self.regex.wholeMatch(in: value)) != nil
    }

    public func matches(_ value: String) -> Bool { self.matches(value[...]) }

    public var description: String { self.pattern }

    public static func == (a: RouteRegex, b: RouteRegex) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.pattern) }
}
