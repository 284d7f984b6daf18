import ProxyGRPC

/// A request's or an opaque connection's `TapEvent`: the shared fields, then `http: Http { request_init |
/// response_init | response_end }` (a tapped request's three events) or `tcp: Tcp { open | close }`. Its sizes are
/// computed as it is made, once; writing it is then stores only.
public struct TapEvent: TapEventMessage {
    /// A `oneof { Registered registered = 1; string unregistered = 2 }` (method, scheme): its index among the
    /// registered names, found once.
    struct Name {
        let index: Int?
        let text: String

        init(_ text: String, _ registered: [String]) {
            self.index = registered.firstIndex(of: text)
            self.text = text
        }

        var body: Int { self.index.map { ProtobufSize.varintAlways(1, UInt64($0)) } ?? ProtobufSize.stringField(2, self.text) }

        func write(_ field: Int, to cursor: inout ProtobufCursor) {
            cursor.message(field, body: self.body)
            if let index = self.index { cursor.writeAlways(1, varint: UInt64(index)) } else { cursor.write(2, string: self.text) }
        }
    }

    enum Content {
        case requestInit(method: Name, scheme: Name, authority: String, path: String, headers: TapEventEncoder.Headers?)
        case responseInit(sinceRequestInit: TapEventEncoder.Duration, status: Int, headers: TapEventEncoder.Headers?, proxyAnswered: String)
        case responseEnd(
            sinceRequestInit: TapEventEncoder.Duration, sinceResponseInit: TapEventEncoder.Duration, responseBytes: Int,
            end: TapEventEncoder.End,
            trailers: TapEventEncoder.Headers?)
        case tcpOpen(sni: String)
        case tcpClose(duration: TapEventEncoder.Duration, received: Int, sent: Int)

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

    let shared: [UInt8]
    let id: TapEventEncoder.StreamID
    let content: Content
    /// The size of the `request_init`/`response_init`/`response_end` message's body.
    let body: Int
    public let size: Int

    init(shared: [UInt8], id: TapEventEncoder.StreamID, content: Content) {
        self.shared = shared
        self.id = id
        self.content = content
        var body = id.size
        switch content {
        case .requestInit(let method, let scheme, let authority, let path, let headers):
            body += ProtobufSize.messageField(2, body: method.body) + ProtobufSize.messageField(3, body: scheme.body)
            body += ProtobufSize.stringField(4, authority) + ProtobufSize.stringField(5, path)
            if let headers { body += ProtobufSize.messageField(6, body: TapEventEncoder.headersBody(headers)) }
        case .responseInit(let since, let status, let headers, let proxyAnswered):
            body += since.size(2) + ProtobufSize.varintField(3, UInt64(status))
            if let headers { body += ProtobufSize.messageField(4, body: TapEventEncoder.headersBody(headers)) }
            body += ProtobufSize.stringField(5, proxyAnswered)
        case .responseEnd(let sinceRequest, let sinceResponse, let bytes, let end, let trailers):
            body += sinceRequest.size(2) + sinceResponse.size(3)
            body += ProtobufSize.varintField(4, UInt64(bytes))
            switch end {
            case .plain: break
            case .grpcStatus(let code), .reset(let code):
                body += ProtobufSize.messageField(5, body: ProtobufSize.varintAlways(1, UInt64(code)))
            }
            if let trailers { body += ProtobufSize.messageField(6, body: TapEventEncoder.headersBody(trailers)) }
        case .tcpOpen(let sni):
            body += ProtobufSize.stringField(2, sni)
        case .tcpClose(let duration, let received, let sent):
            body += duration.size(2) + ProtobufSize.varintField(3, UInt64(received)) + ProtobufSize.varintField(4, UInt64(sent))
        }
        self.body = body
        let (group, kind) = content.fields
        self.size = shared.count + ProtobufSize.messageField(group, body: ProtobufSize.messageField(kind, body: body))
    }

    public func write(to cursor: inout ProtobufCursor) {
        let (group, kind) = self.content.fields
        cursor.raw(self.shared)
        cursor.message(group, body: ProtobufSize.messageField(kind, body: self.body))
        cursor.message(kind, body: self.body)
        self.id.write(to: &cursor)
        switch self.content {
        case .requestInit(let method, let scheme, let authority, let path, let headers):
            method.write(2, to: &cursor)
            scheme.write(3, to: &cursor)
            cursor.write(4, string: authority)
            cursor.write(5, string: path)
            if let headers { TapEventEncoder.writeHeaders(6, headers, to: &cursor) }
        case .responseInit(let since, let status, let headers, let proxyAnswered):
            since.write(2, to: &cursor)
            cursor.write(3, varint: UInt64(status))
            if let headers { TapEventEncoder.writeHeaders(4, headers, to: &cursor) }
            cursor.write(5, string: proxyAnswered)
        case .responseEnd(let sinceRequest, let sinceResponse, let bytes, let end, let trailers):
            sinceRequest.write(2, to: &cursor)
            sinceResponse.write(3, to: &cursor)
            cursor.write(4, varint: UInt64(bytes))
            switch end {
            case .plain: break
            case .grpcStatus(let code):
                cursor.message(5, body: ProtobufSize.varintAlways(1, UInt64(code)))
                cursor.writeAlways(1, varint: UInt64(code))
            case .reset(let code):
                cursor.message(5, body: ProtobufSize.varintAlways(2, UInt64(code)))
                cursor.writeAlways(2, varint: UInt64(code))
            }
            if let trailers { TapEventEncoder.writeHeaders(6, trailers, to: &cursor) }
        case .tcpOpen(let sni):
            cursor.write(2, string: sni)
        case .tcpClose(let duration, let received, let sent):
            duration.write(2, to: &cursor)
            cursor.write(3, varint: UInt64(received))
            cursor.write(4, varint: UInt64(sent))
        }
    }
}
