/// A tap request the proxy refuses: gRPC INVALID_ARGUMENT with this message.
public struct TapRequestError: Error, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
