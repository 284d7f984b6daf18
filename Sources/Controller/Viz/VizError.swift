/// What goes wrong reading the mesh's metrics: a code, and a message a person can act on.
public struct VizError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case prometheusUnreachable = "prometheus_unreachable"
        case prometheusFailed = "prometheus_failed"
        case invalidArgument = "invalid_argument"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
