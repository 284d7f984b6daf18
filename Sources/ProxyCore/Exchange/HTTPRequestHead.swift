/// A request as every stage of the proxy sees it, whatever protocol it came in and will leave in.
///
/// HTTP/1 gives the method, the target and the fields; HTTP/2 the pseudo-fields `:method`, `:scheme`, `:authority`,
/// `:path`. Both become this: the authority is the absolute-form target's, else `:authority`, else `Host`
/// (RFC 9112 §3.2.2, RFC 9113 §8.3.1), and `path` is always origin-form (or `*`, or an authority for `CONNECT`).
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// `http` or `https` when the client said (HTTP/2, or an absolute-form target); `nil` otherwise.
    public var scheme: String?
    public var authority: String?
    public var path: String
    /// The HTTP/1 version the client spoke (`1.0` or `1.1`); 2.0 for HTTP/2.
    public var version: HTTPVersionNumber
    /// The regular fields: without pseudo-fields, and, once the exchange has read them, without the
    /// connection-specific ones.
    public var fields: HTTPFields

    public init(
        method: String, scheme: String? = nil, authority: String? = nil, path: String, version: HTTPVersionNumber = .http1_1,
        fields: HTTPFields = HTTPFields()
    ) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.version = version
        self.fields = fields
    }

    public var isHEAD: Bool { self.method == "HEAD" }
    public var isCONNECT: Bool { self.method == "CONNECT" }
}

/// A response as every stage of the proxy sees it.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var version: HTTPVersionNumber
    public var fields: HTTPFields

    public init(status: Int, version: HTTPVersionNumber = .http1_1, fields: HTTPFields = HTTPFields()) {
        self.status = status
        self.version = version
        self.fields = fields
    }

    /// `1xx` other than `101`: passed on ahead of the final response.
    public var isInformational: Bool { self.status >= 100 && self.status < 200 && self.status != 101 }
}

/// An HTTP version: 1.0 and 1.1 on HTTP/1 connections, 2.0 on HTTP/2.
public struct HTTPVersionNumber: Hashable, Sendable {
    public var major: UInt8
    public var minor: UInt8

    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    // Named as NIO names its versions (`HTTPVersion.http1_1`): the underscore is the version's dot.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public static let http1_0 = HTTPVersionNumber(major: 1, minor: 0)
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public static let http1_1 = HTTPVersionNumber(major: 1, minor: 1)
    public static let http2 = HTTPVersionNumber(major: 2, minor: 0)
}
