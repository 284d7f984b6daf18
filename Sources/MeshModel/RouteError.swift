/// Why a route, or a part of one, cannot be used. The controller adds the file and line; the reason is this.
public struct RouteError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let invalidRegex = Code(name: "invalid_regex")
        public static let invalidPath = Code(name: "invalid_path")
        public static let invalidDuration = Code(name: "invalid_duration")
        public static let invalidValue = Code(name: "invalid_value")
        public var description: String { self.name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
