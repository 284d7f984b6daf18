/// A bad environment variable: which one, its value, and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var variable = ""
    public var value: String
    public var reason: String

    public init(value: String, reason: String) {
        self.value = value
        self.reason = reason
    }

    public var description: String { "\(self.variable)=\(self.value): \(self.reason)" }
}
