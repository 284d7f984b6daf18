import NIOCore

/// Parses HTTP/1.1 messages straight from the bytes read, into the exchange model: a head whose fields stay spans
/// of those bytes, then body parts that are slices of them. Pure: fed bytes, asked for events.
///
/// Strict where leniency lets two parsers disagree about where a message ends (RFC 9112 §6, §11.2): both
/// `Transfer-Encoding` and `Content-Length`, conflicting lengths, a transfer coding other than a final `chunked` on a
/// request, several `Host` fields, whitespace before a field's colon, folded lines and control characters are refused.
/// Lenient where nothing is at stake: empty lines before a request, a bare LF ending a line.
public struct HTTP1Parser {
    public enum Mode: Sendable { case request, response }

    /// How a message's body is delimited.
    public enum BodyKind: Equatable, Sendable {
        case none
        case length(Int)
        case chunked
        /// A response that runs until the server closes the connection.
        case untilClose
    }

    /// What the connection handler needs besides the head.
    public struct MessageInfo: Equatable, Sendable {
        public var body: BodyKind
        /// The connection may carry another message after this one.
        public var keepAlive: Bool
        /// A request asking to switch protocols (`Upgrade` named by `Connection`), or `CONNECT`.
        public var upgrade: Bool
        /// The request carried its target in absolute form (`GET http://host/path`).
        public var absoluteForm: Bool
    }

    public enum Event: Sendable {
        case requestHead(HTTPRequestHead, MessageInfo)
        case responseHead(HTTPResponseHead, MessageInfo)
        case body(ByteBuffer)
        /// The message is complete; a chunked body may end with trailer fields.
        case end(HTTPFields?)
    }

    public struct Limits: Sendable {
        /// The whole head (request or status line and fields) and, separately, the trailers.
        public var maximumHeadBytes: Int
        public var maximumFields: Int

        public init(maximumHeadBytes: Int = 64 * 1024, maximumFields: Int = 256) {
            self.maximumHeadBytes = maximumHeadBytes
            self.maximumFields = maximumFields
        }
    }

    public enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        /// After an upgrade request, or a `101` or a successful `CONNECT` response: what follows is not HTTP.
        case stopped
    }

    public let mode: Mode
    public let limits: Limits
    public var state = State.head
    public var pending: ByteBuffer? = nil
    /// How far the current head has been searched for its end, so a head arriving in pieces is scanned once.
    var scanned = 0
    /// Response mode: the request this response answers was a HEAD, or a CONNECT.
    var answeringHEAD = false
    var answeringCONNECT = false

    public init(mode: Mode, limits: Limits = Limits()) {
        self.mode = mode
        self.limits = limits
    }

    /// Response mode: says which request the next response answers (a HEAD's response has no body, a CONNECT's
    /// success opens a tunnel).
    public mutating func expectResponse(toMethod method: String) {
        self.answeringHEAD = method == "HEAD"
        self.answeringCONNECT = method == "CONNECT"
    }

    public mutating func append(_ bytes: ByteBuffer) {
        if self.pending == nil || self.pending!.readableBytes == 0 {
            self.pending = bytes
        } else {
            var bytes = bytes
            self.pending!.writeBuffer(&bytes)
        }
    }

    /// Bytes read and not yet parsed (the start of a next message, or, once `stopped`, the first bytes of another
    /// protocol), handed over and forgotten.
    public mutating func takeUnparsedBytes() -> ByteBuffer? {
        defer { self.pending = nil }
        return self.pending.flatMap { $0.readableBytes > 0 ? $0 : nil }
    }

    /// A head has begun arriving and is not complete (the header-read timeout runs).
    public var isReadingHead: Bool {
        guard case .head = self.state, let pending = self.pending else { return false }
        return pending.readableBytes > 0
    }

    /// Between messages, with nothing of a next one read.
    public var isIdle: Bool {
        guard case .head = self.state, !self.endPending else { return false }
        return (self.pending?.readableBytes ?? 0) == 0
    }

    public var isStopped: Bool {
        if case .stopped = self.state { return true }
        return false
    }

    /// Back to parsing after a stop (an upgrade the server refused: the next bytes are a request again).
    public mutating func resume() {
        if case .stopped = self.state { self.state = .head }
    }

    /// The next event, or `nil` when more bytes are needed.
    public mutating func next() throws(HTTP1ParseError) -> Event? {
        if self.endPending {
            self.endPending = false
            return self.endMessage(trailers: nil)
        }
        switch self.state {
        case .head:
            return try self.parseHead()
        case .fixedBody(let remaining):
            guard var pending = self.pending, pending.readableBytes > 0 else { return nil }
            let count = min(remaining, pending.readableBytes)
            let slice = pending.readSlice(length: count)!
            self.pending = pending
            if count == remaining {
                // The body's last bytes and its end are separate events; the end comes at the next call.
                self.endPending = true
            } else {
                self.state = .fixedBody(remaining: remaining - count)
            }
            return .body(slice)
        case .chunkSize:
            return try self.parseChunkSize()
        case .chunkData(let remaining):
            guard var pending = self.pending, pending.readableBytes > 0 else { return nil }
            let count = min(remaining, pending.readableBytes)
            let slice = pending.readSlice(length: count)!
            self.pending = pending
            self.state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return .body(slice)
        case .chunkDataEnd:
            guard let line = try self.readLine(limit: 2) else { return nil }
            guard line.readableBytes == 0 else { throw HTTP1ParseError(.malformed, "chunk data not followed by CRLF") }
            self.state = .chunkSize
            return try self.parseChunkSize()
        case .trailers:
            return try self.parseTrailers()
        case .untilClose:
            guard let pending = self.pending, pending.readableBytes > 0 else { return nil }
            self.pending = nil
            return .body(pending)
        case .stopped:
            return nil
        }
    }

    /// The message's end is due at the next call: its head said it has no (more) body.
    public var endPending = false
    /// The message being read is an upgrade (or its answer): parsing stops at its end.
    var stopAfterEnd = false

    /// The peer closed its side. Ends a body that runs until the close; anything else half-read is an error.
    public mutating func inputClosed() throws(HTTP1ParseError) -> Event? {
        if self.endPending {
            self.endPending = false
            return self.endMessage(trailers: nil)
        }
        switch self.state {
        case .untilClose:
            self.state = .stopped
            return .end(nil)
        case .head where !self.isReadingHead:
            return nil
        case .stopped:
            return nil
        default:
            throw HTTP1ParseError(.truncated, "the connection closed in the middle of a message")
        }
    }

    mutating func parseHead() throws(HTTP1ParseError) -> Event? {
        guard var pending = self.pending, pending.readableBytes > 0 else { return nil }
        if self.mode == .request, self.scanned == 0 {
            // Empty lines before a request line are ignored (RFC 9112 §2.2).
            while let byte = pending.getInteger(at: pending.readerIndex, as: UInt8.self), byte == 0x0d || byte == 0x0a {
                pending.moveReaderIndex(forwardBy: 1)
            }
            self.pending = pending
            guard pending.readableBytes > 0 else { return nil }
        }
        guard let headLength = Self.headLength(pending, from: self.scanned) else {
            self.scanned = max(pending.readableBytes - 3, 0)
            if pending.readableBytes > self.limits.maximumHeadBytes {
                throw HTTP1ParseError(.headTooLarge, "the head is over \(self.limits.maximumHeadBytes) bytes")
            }
            return nil
        }
        guard headLength <= self.limits.maximumHeadBytes else {
            throw HTTP1ParseError(.headTooLarge, "the head is over \(self.limits.maximumHeadBytes) bytes")
        }
        self.scanned = 0
        let head = pending.readSlice(length: headLength)!
        self.pending = pending
        switch self.mode {
        case .request:
            let (request, info) = try Self.parseRequest(head, limits: self.limits)
            self.begin(body: info.body, stopAfter: info.upgrade)
            return .requestHead(request, info)
        case .response:
            let (response, info) = try Self.parseResponse(
                head, limits: self.limits, answeringHEAD: self.answeringHEAD, answeringCONNECT: self.answeringCONNECT)
            if response.isInformational {
                self.state = .head
            } else {
                self.begin(body: info.body, stopAfter: info.upgrade)
            }
            return .responseHead(response, info)
        }
    }

    /// Where the parser goes after a head. A message without a body ends at once: the end is the next event.
    private mutating func begin(body: BodyKind, stopAfter: Bool) {
        self.stopAfterEnd = stopAfter
        switch body {
        case .none, .length(0):
            self.endPending = true
        case .length(let length):
            self.state = .fixedBody(remaining: length)
        case .chunked:
            self.state = .chunkSize
        case .untilClose:
            self.state = .untilClose
        }
    }

    /// The message is complete: the next bytes are a new head, or, after an upgrade, not HTTP at all.
    mutating func endMessage(trailers: HTTPFields?) -> Event {
        self.state = self.stopAfterEnd ? .stopped : .head
        self.stopAfterEnd = false
        return .end(trailers)
    }
}
