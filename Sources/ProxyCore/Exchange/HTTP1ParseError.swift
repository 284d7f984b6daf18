/// Why bytes could not be parsed as HTTP/1.
public struct HTTP1ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case malformed
        /// The head (or the trailers) is over the limit.
        case headTooLarge
        /// The connection closed before the message was complete.
        case truncated
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { self.message }
}
