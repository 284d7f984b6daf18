import NIOCore

/// Writes the exchange model as HTTP/1.1 bytes: heads in one buffer, bodies as the caller's slices with chunk
/// framing around them when the length is not known.
public enum HTTP1Serializer {
    /// `method SP path SP HTTP/1.1 CRLF`, the fields, `Host` first when it must be added, and the empty line.
    public static func writeRequestHead(_ head: HTTPRequestHead, extra: (String, String)? = nil, into buffer: inout ByteBuffer) {
        buffer.writeString(head.method)
        buffer.writeStaticString(" ")
        buffer.writeString(head.path)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        head.fields.writeHTTP1(into: &buffer)
        if let (name, value) = extra {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    public static func writeResponseHead(_ head: HTTPResponseHead, version: HTTPVersionNumber, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(version == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        Self.writeStatus(head.status, into: &buffer)
        head.fields.writeHTTP1(into: &buffer)
        buffer.writeStaticString("\r\n")
    }

    public static func writeStatus(_ status: Int, into buffer: inout ByteBuffer) {
        if (100...999).contains(status) {
            buffer.writeInteger(UInt8(0x30 + status / 100))
            buffer.writeInteger(UInt8(0x30 + status / 10 % 10))
            buffer.writeInteger(UInt8(0x30 + status % 10))
        } else {
            buffer.writeStaticString("500")
        }
        buffer.writeStaticString(" ")
        buffer.writeString(Self.reasonPhrase(status))
        buffer.writeStaticString("\r\n")
    }

    /// The chunk-size line that goes before `length` bytes of a chunked body.
    public static func writeChunkHeader(_ length: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(length, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    /// The last chunk and the trailers.
    public static func writeLastChunk(trailers: HTTPFields?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("0\r\n")
        trailers?.writeHTTP1(into: &buffer)
        buffer.writeStaticString("\r\n")
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 421: "Misdirected Request"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default:
            status < 200
                ? "Informational" : status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error"
        }
    }
}
