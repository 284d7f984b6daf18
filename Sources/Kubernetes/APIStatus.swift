/// The API's `Status` object: what a failed request or a watch's ERROR event says.
public struct APIStatus: Codable, Hashable, Sendable {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }
}
