/// How a message's body is delimited where it came from: the next hop frames it again from this.
public enum BodyFraming: Equatable, Sendable {
    /// No body at all (an HTTP/1 message without length, an HTTP/2 `HEADERS` with `END_STREAM`).
    case none
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// A body of unknown length (chunked, or HTTP/2 `DATA` frames without a `content-length`).
    case stream
}
