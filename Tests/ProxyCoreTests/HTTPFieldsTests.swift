import NIOCore
import NIOHPACK
import ProxyCore
import Testing

/// Header fields in the exchange model: what stops at the proxy, and what crosses between HTTP/1 and HTTP/2.
@Suite struct HTTPFieldsTests {
    /// Fields as the HTTP/1 parser makes them (spans of the bytes read).
    func parsed(_ lines: [(String, String)]) throws -> HTTPFields {
        var text = "GET / HTTP/1.1\r\n"
        for (name, value) in lines { text += "\(name): \(value)\r\n" }
        var parser = HTTP1Parser(mode: .request)
        parser.append(ByteBuffer(string: text + "\r\n"))
        guard case .requestHead(let head, _)? = try parser.next() else { throw TestFailure("no head") }
        return head.fields
    }

    struct TestFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    func names(_ fields: HTTPFields) -> [String] { fields.asPairs.map(\.0) }

    @Test func removesConnectionScopedFieldsAndThoseConnectionNames() throws {
        var fields = try self.parsed([
            ("Connection", "keep-alive, X-Secret"), ("Keep-Alive", "timeout=5"), ("X-Secret", "1"),
            ("Proxy-Connection", "keep-alive"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
            ("Content-Type", "text/plain"), ("Trailer", "grpc-status"),
        ])
        fields.removeConnectionFields()
        #expect(self.names(fields).sorted() == ["Content-Type", "Trailer"])
    }

    @Test func keepsTETrailersForGRPC() throws {
        var fields = try self.parsed([("te", "trailers"), ("content-type", "application/grpc")])
        fields.removeConnectionFields()
        #expect(fields.values("te") == ["trailers"])
        var other = try self.parsed([("te", "gzip")])
        other.removeConnectionFields()
        #expect(!other.contains("te"))
    }

    @Test func keepsAnUpgradeWhenAskedAndReportsItsProtocol() throws {
        var fields = try self.parsed([("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")])
        #expect(fields.removeConnectionFields(keepingUpgrade: true) == "websocket")
        #expect(fields.values("connection") == ["upgrade"])
        #expect(fields.values("upgrade") == ["websocket"])
        #expect(fields.values("sec-websocket-key") == ["k"])
    }

    @Test func anUpgradeFieldWithoutConnectionUpgradeIsNotAnUpgrade() throws {
        var fields = try self.parsed([("Upgrade", "websocket")])
        #expect(fields.removeConnectionFields(keepingUpgrade: true) == nil)
        #expect(!fields.contains("upgrade"))
    }

    @Test func keepsTheOrderAndRepeatsOfEndToEndFieldsAndReadsTokensLoosely() throws {
        var fields = try self.parsed([
            ("Set-Cookie", "a=1"), ("connection", " Keep-Alive ,\tX-Hop "), ("x-hop", "gone"), ("Set-Cookie", "b=2"),
            ("Via", "1.1 a"), ("CONNECTION", "close"),
        ])
        fields.removeConnectionFields()
        #expect(fields.asPairs.map { "\($0): \($1)" } == ["Set-Cookie: a=1", "Set-Cookie: b=2", "Via: 1.1 a"])
    }

    @Test func http1FieldsAreWrittenAsTheyArrivedWithAddedOnesAfterThem() throws {
        var fields = try self.parsed([
            ("Host", "web:80"), ("X-A", "1"), ("Keep-Alive", "5"), ("X-B", "two words"), ("Connection", "keep-alive"),
        ])
        fields.removeConnectionFields()
        fields.add("swiftlet-client-id", "web.ns")
        var out = ByteBuffer()
        fields.writeHTTP1(into: &out)
        #expect(String(buffer: out) == "Host: web:80\r\nX-A: 1\r\nX-B: two words\r\nswiftlet-client-id: web.ns\r\n")
    }

    @Test func http2FieldsBecomeHTTP1AndBackWithoutPseudoFieldsOrHost() throws {
        let received = HPACKHeaders([(":method", "GET"), (":path", "/x"), (":scheme", "http"), (":authority", "web:80"), ("accept", "*/*")])
        let fields = HTTPFields(received)
        #expect(fields.asPairs.map(\.0) == ["accept"])
        var out = ByteBuffer()
        fields.writeHTTP1(into: &out)
        #expect(String(buffer: out) == "accept: */*\r\n")
        // Unchanged pseudo-fields: the very headers go on, nothing copied.
        #expect(fields.hpackRequest(method: "GET", scheme: "http", authority: "web:80", path: "/x") == received)
        // A changed authority: rebuilt with it.
        let rebuilt = fields.hpackRequest(method: "GET", scheme: "http", authority: "other:80", path: "/x")
        #expect(rebuilt.first(name: ":authority") == "other:80")
        #expect(rebuilt.first(name: "accept") == "*/*")

        let fromHTTP1 = try self.parsed([("Host", "web:80"), ("Content-Type", "text/plain")])
        let converted = fromHTTP1.hpackRequest(method: "POST", scheme: "http", authority: "web:80", path: "/")
        #expect(converted.map(\.name) == [":method", ":scheme", ":authority", ":path", "content-type"])
        #expect(fromHTTP1.hpackResponse(status: 204).first(name: ":status") == "204")
    }

    @Test func aFieldThatWouldSplitAnHTTP1HeadIsNotWritten() {
        let fields = HTTPFields(
            HPACKHeaders([(":status", "200"), ("x-ok", "fine"), ("x-evil", "a\r\nset-cookie: stolen"), ("x-nul", "a\u{0}b")]))
        var out = ByteBuffer()
        fields.writeHTTP1(into: &out)
        #expect(String(buffer: out) == "x-ok: fine\r\n")
    }
}
