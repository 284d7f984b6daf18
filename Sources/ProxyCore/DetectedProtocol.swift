/// What the first bytes of a connection turned out to be.
public enum DetectedProtocol: Hashable, Sendable {
    case http1
    /// Prior-knowledge HTTP/2 (the client sent the connection preface).
    case http2
    /// A TLS ClientHello; `serverName` is its SNI, if any. Relayed opaquely until mTLS terminates it.
    case tls(serverName: String?)
    /// Anything else, or nothing within the detection timeout.
    case opaque
}
