/// Why a tap could not start, said to the user with the HTTP status the tap API answers.
public struct TapError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable {
        /// A target or filter that cannot be (an unknown kind, a Service as the target, a malformed request).
        case invalidRequest
        /// Nothing of that name runs.
        case notFound
        /// Pods run, but none can be tapped: not meshed, tap disabled, no tap port.
        case notTappable
        /// The caller may not tap it.
        case forbidden
        /// The caller is not who a tap may come from.
        case unauthenticated
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }

    /// The HTTP status of the tap API's answer.
    public var status: Int {
        switch self.code {
        case .invalidRequest, .notTappable: 400
        case .notFound: 404
        case .forbidden: 403
        case .unauthenticated: 401
        }
    }
}
