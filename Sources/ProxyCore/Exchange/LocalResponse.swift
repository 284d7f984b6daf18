import NIOCore

/// A response the proxy makes itself — an error, an injected fault, a redirect — rendered in one place: a line of
/// text with `swiftlet-proxy-error` for HTTP, a trailers-only answer (`grpc-status`, `grpc-message`) for a gRPC
/// call, whose client reads nothing else.
public struct LocalResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: ByteBuffer?

    public init(head: HTTPResponseHead, body: ByteBuffer?) {
        self.head = head
        self.body = body
    }

    /// The proxy's answer to a request it could not serve.
    public static func error(_ error: ProxyError, grpc: Bool) -> LocalResponse {
        if grpc { return .grpc(status: error.grpcStatus, message: error.description, proxyError: error.headerValue) }
        return .text(status: error.code.httpStatus, error.description, proxyError: error.headerValue)
    }

    /// `status` with `text` (and a line end) as its body.
    public static func text(status: Int, _ text: String, proxyError: String? = nil) -> LocalResponse {
        let body = ByteBuffer(string: "\(text)\n")
        var fields = HTTPFields()
        fields.add("content-type", "text/plain; charset=utf-8")
        fields.add("content-length", String(body.readableBytes))
        if let proxyError { fields.add("swiftlet-proxy-error", proxyError) }
        return LocalResponse(head: HTTPResponseHead(status: status, fields: fields), body: body)
    }

    /// A trailers-only gRPC answer: status 200, `grpc-status` and `grpc-message` in the one head.
    public static func grpc(status: Int, message: String, proxyError: String? = nil) -> LocalResponse {
        var fields = HTTPFields()
        fields.add("content-type", "application/grpc")
        fields.add("grpc-status", String(status))
        fields.add("grpc-message", Self.percentEncoded(message))
        if let proxyError { fields.add("swiftlet-proxy-error", proxyError) }
        return LocalResponse(head: HTTPResponseHead(status: 200, fields: fields), body: nil)
    }

    /// An HTTP status as a gRPC call sees it: the gRPC spec's mapping ("HTTP to gRPC Status Code Mapping").
    public static func grpcStatus(forHTTP status: Int) -> Int {
        switch status {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
    }

    /// `grpc-message` is percent-encoded (gRPC over HTTP/2): everything outside printable ASCII, and `%`.
    public static func percentEncoded(_ text: String) -> String {
        var result = ""
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%"
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return result
    }
}
