import ProxyGRPC

/// A request's or an opaque connection's `TapEvent`: the shared fields, then `http: Http { request_init |
/// response_init | response_end }` (a tapped request's three events) or `tcp: Tcp { open | close }`. Its sizes are
/// computed as it is made, once; writing it is then stores only.
///
/// Flat, with a kind that carries no payload: its strings are read in place when written (an enum's payloads were
/// copied out, a retain and a release each, every time it was switched on).
public struct TapEvent: TapEventMessage {
    enum Kind {
        case requestInit, responseInit, responseEnd, tcpOpen, tcpClose

        /// `TapEvent`'s field for it (`http`, `tcp`), and that message's field for it.
        var fields: (group: Int, kind: Int) {
            switch self {
            case .requestInit: (3, 1)
            case .responseInit: (3, 2)
            case .responseEnd: (3, 3)
            case .tcpOpen: (8, 1)
            case .tcpClose: (8, 2)
            }
        }
    }

    /// A `oneof { Registered registered = 1; string unregistered = 2 }` (method, scheme): its index among the
    /// registered names, found once.
    struct Name {
        let index: Int?
        let text: String
        let body: Int

        init(_ text: String, _ registered: [String]) {
            let index = registered.firstIndex(of: text)
            self.index = index
            self.text = text
            self.body = index.map { ProtobufSize.varintAlways(1, UInt64($0)) } ?? ProtobufSize.stringField(2, text)
        }

        /// No name (events other than request init). Made in place, not a `static let`: a default argument read
        /// from a global checked its lazy initialization on every event.
        static var none: Name {
            @inline(__always) get { Name(index: nil, text: "", body: 0) }
        }

        private init(index: Int?, text: String, body: Int) {
            self.index = index
            self.text = text
            self.body = body
        }

        @inline(__always)
        func write(_ field: Int, to cursor: inout ProtobufCursor) {
            cursor.message(field, body: self.body)
            if let index = self.index { cursor.writeAlways(1, varint: UInt64(index)) } else { cursor.write(2, string: self.text) }
        }
    }

    let kind: Kind
    let shared: [UInt8]
    let id: TapEventEncoder.StreamID
    /// Request init: method and scheme.
    let method: Name
    let scheme: Name
    /// Request init: authority and path; response init: why the proxy answered (first); TCP open: the SNI (first).
    let first: String
    let second: String
    /// Response init and end: since the request's init; TCP close: how long the connection lasted.
    let since: TapEventEncoder.Duration
    /// Response end: since the response's init.
    let sinceResponse: TapEventEncoder.Duration
    /// Response init: the status; response end: the response's bytes; TCP close: bytes received.
    let number: UInt64
    /// TCP close: bytes sent.
    let sent: UInt64
    let end: TapEventEncoder.End
    /// Request or response headers, or trailers, when asked for.
    let headers: TapEventEncoder.Headers?
    /// The size of the `request_init`/… message's body.
    let body: Int
    public let size: Int

    init(
        _ kind: Kind, shared: [UInt8], id: TapEventEncoder.StreamID, method: Name = .none, scheme: Name = .none, first: String = "",
        second: String = "", since: TapEventEncoder.Duration = .zero, sinceResponse: TapEventEncoder.Duration = .zero,
        number: UInt64 = 0, sent: UInt64 = 0, end: TapEventEncoder.End = .plain, headers: TapEventEncoder.Headers? = nil
    ) {
        var body = id.size
        switch kind {
        case .requestInit:
            body += ProtobufSize.messageField(2, body: method.body) + ProtobufSize.messageField(3, body: scheme.body)
            body += ProtobufSize.stringField(4, first) + ProtobufSize.stringField(5, second)
            if let headers { body += ProtobufSize.messageField(6, body: TapEventEncoder.headersBody(headers)) }
        case .responseInit:
            body += since.size(2) + ProtobufSize.varintField(3, number)
            if let headers { body += ProtobufSize.messageField(4, body: TapEventEncoder.headersBody(headers)) }
            body += ProtobufSize.stringField(5, first)
        case .responseEnd:
            body += since.size(2) + sinceResponse.size(3) + ProtobufSize.varintField(4, number)
            switch end {
            case .plain: break
            case .grpcStatus(let code), .reset(let code):
                body += ProtobufSize.messageField(5, body: ProtobufSize.varintAlways(1, UInt64(code)))
            }
            if let headers { body += ProtobufSize.messageField(6, body: TapEventEncoder.headersBody(headers)) }
        case .tcpOpen:
            body += ProtobufSize.stringField(2, first)
        case .tcpClose:
            body += since.size(2) + ProtobufSize.varintField(3, number) + ProtobufSize.varintField(4, sent)
        }
        let (group, field) = kind.fields
        self.kind = kind
        self.shared = shared
        self.id = id
        self.method = method
        self.scheme = scheme
        self.first = first
        self.second = second
        self.since = since
        self.sinceResponse = sinceResponse
        self.number = number
        self.sent = sent
        self.end = end
        self.headers = headers
        self.body = body
        self.size = shared.count + ProtobufSize.messageField(group, body: ProtobufSize.messageField(field, body: body))
    }

    public func write(to cursor: inout ProtobufCursor) {
        let (group, field) = self.kind.fields
        cursor.raw(self.shared)
        cursor.message(group, body: ProtobufSize.messageField(field, body: self.body))
        cursor.message(field, body: self.body)
        self.id.write(to: &cursor)
        switch self.kind {
        case .requestInit:
            self.method.write(2, to: &cursor)
            self.scheme.write(3, to: &cursor)
            cursor.write(4, string: self.first)
            cursor.write(5, string: self.second)
            if let headers = self.headers { TapEventEncoder.writeHeaders(6, headers, to: &cursor) }
        case .responseInit:
            self.since.write(2, to: &cursor)
            cursor.write(3, varint: self.number)
            if let headers = self.headers { TapEventEncoder.writeHeaders(4, headers, to: &cursor) }
            cursor.write(5, string: self.first)
        case .responseEnd:
            self.since.write(2, to: &cursor)
            self.sinceResponse.write(3, to: &cursor)
            cursor.write(4, varint: self.number)
            switch self.end {
            case .plain: break
            case .grpcStatus(let code):
                cursor.message(5, body: ProtobufSize.varintAlways(1, UInt64(code)))
                cursor.writeAlways(1, varint: UInt64(code))
            case .reset(let code):
                cursor.message(5, body: ProtobufSize.varintAlways(2, UInt64(code)))
                cursor.writeAlways(2, varint: UInt64(code))
            }
            if let headers = self.headers { TapEventEncoder.writeHeaders(6, headers, to: &cursor) }
        case .tcpOpen:
            cursor.write(2, string: self.first)
        case .tcpClose:
            self.since.write(2, to: &cursor)
            cursor.write(3, varint: self.number)
            cursor.write(4, varint: self.sent)
        }
    }
}
