import NIOCore
import ProxyCore
import Testing

/// The HTTP/1 parser: messages as clients and servers send them, in any pieces, and the ambiguous ones refused.
@Suite struct HTTP1ParserTests {
    enum Seen: Equatable {
        case request(method: String, path: String, authority: String?, keepAlive: Bool, body: HTTP1Parser.BodyKind)
        case response(status: Int, body: HTTP1Parser.BodyKind, keepAlive: Bool)
        case body(String)
        case end(trailers: [String])
    }

    /// Feeds `input` in pieces of `piece` bytes and collects the events, joining adjacent body parts.
    func parse(_ mode: HTTP1Parser.Mode, _ input: String, piece: Int = .max, method: String = "GET", close: Bool = false) throws -> [Seen] {
        var parser = HTTP1Parser(mode: mode)
        if mode == .response { parser.expectResponse(toMethod: method) }
        var seen: [Seen] = []
        func record(_ event: HTTP1Parser.Event) {
            switch event {
            case .requestHead(let head, let info):
                seen.append(
                    .request(method: head.method, path: head.path, authority: head.authority, keepAlive: info.keepAlive, body: info.body))
            case .responseHead(let head, let info):
                seen.append(.response(status: head.status, body: info.body, keepAlive: info.keepAlive))
            case .body(let bytes):
                if case .body(let before)? = seen.last {
                    seen[seen.count - 1] = .body(before + String(buffer: bytes))
                } else {
                    seen.append(.body(String(buffer: bytes)))
                }
            case .end(let trailers):
                seen.append(.end(trailers: trailers?.asPairs.map { "\($0): \($1)" } ?? []))
            }
        }
        var rest = ByteBuffer(string: input)
        while rest.readableBytes > 0 {
            parser.append(rest.readSlice(length: min(piece, rest.readableBytes))!)
            while let event = try parser.next() { record(event) }
        }
        if close, let event = try parser.inputClosed() { record(event) }
        return seen
    }

    @Test(arguments: [1, 2, 7, 1000])
    func requestsArriveWholeWhateverPiecesTheyComeIn(piece: Int) throws {
        let input =
            "\r\nGET /a?x=1 HTTP/1.1\r\nHost: web:8080\r\nUser-Agent: t\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: web:8080\r\nContent-Length: 5\r\n\r\nhello"
            + "PUT /c HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: "
            + "7\r\n\r\n"
            + "GET /d HTTP/1.0\r\n\r\n"
        #expect(
            try self.parse(.request, input, piece: piece) == [
                .request(method: "GET", path: "/a?x=1", authority: "web:8080", keepAlive: true, body: .none), .end(trailers: []),
                .request(method: "POST", path: "/b", authority: "web:8080", keepAlive: true, body: .length(5)), .body("hello"),
                .end(trailers: []),
                .request(method: "PUT", path: "/c", authority: "web", keepAlive: true, body: .chunked), .body("abc0123456789abcdef"),
                .end(trailers: ["X-Sum: 7"]),
                .request(method: "GET", path: "/d", authority: nil, keepAlive: false, body: .none), .end(trailers: []),
            ]
        )
    }

    @Test func theAbsoluteFormTargetsAuthorityWinsOverHost() throws {
        var parser = HTTP1Parser(mode: .request)
        parser.append(ByteBuffer(string: "GET http://other:80/p?q HTTP/1.1\r\nHost: app:80\r\n\r\n"))
        guard case .requestHead(let head, let info)? = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.authority == "other:80")
        #expect(head.path == "/p?q")
        #expect(head.scheme == "http")
        #expect(info.absoluteForm)
        #expect(
            try self.parse(.request, "GET http://h HTTP/1.1\r\n\r\n").first
                == .request(method: "GET", path: "/", authority: "h", keepAlive: true, body: .none))
    }

    @Test func connectionSemanticsFollowTheVersion() throws {
        #expect(
            try self.parse(.request, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").first
                == .request(method: "GET", path: "/", authority: nil, keepAlive: false, body: .none))
        #expect(
            try self.parse(.request, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").first
                == .request(method: "GET", path: "/", authority: nil, keepAlive: true, body: .none))
        #expect(
            try self.parse(.request, "GET / HTTP/1.1\nHost: a\n\n").first
                == .request(method: "GET", path: "/", authority: "a", keepAlive: true, body: .none))
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both framings"),
        ("GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "conflicting lengths"),
        ("GET / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", "conflicting lengths in a list"),
        ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "a negative length"),
        ("GET / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "a length not in digits"),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "a coding that does not end chunked"),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "chunked not last"),
        ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked in HTTP/1.0"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two hosts"),
        ("GET / HTTP/1.1\r\nX-A : 1\r\n\r\n", "whitespace before the colon"),
        ("GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", "obsolete line folding"),
        ("GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", "a NUL in a value"),
        ("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "a bare CR in a value"),
        ("GET / HTTP/1.1\r\nBad Header\r\n\r\n", "a line without a colon"),
        ("GET  / HTTP/1.1\r\n\r\n", "two spaces"),
        ("GET / HTTP/2.0\r\n\r\n", "an unsupported version"),
        ("G@T / HTTP/1.1\r\n\r\n", "a method that is not a token"),
        ("GET http://user@evil/ HTTP/1.1\r\n\r\n", "userinfo in the target"),
        ("GET ftp://h/ HTTP/1.1\r\n\r\n", "a scheme that is not HTTP"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "a chunk size that is not hex"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", "a chunk size too large"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "chunk data not followed by CRLF"),
    ])
    func ambiguousOrMalformedRequestsAreRefused(input: String, why: String) {
        #expect(throws: HTTP1ParseError.self, "\(why)") { try self.parse(.request, input) }
    }

    @Test func aHeadLargerThanTheLimitIsRefusedEvenBeforeItEnds() {
        var parser = HTTP1Parser(mode: .request, limits: .init(maximumHeadBytes: 1024))
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 2000)))
        #expect(throws: HTTP1ParseError(.headTooLarge, "the head is over 1024 bytes")) { try parser.next() }
    }

    @Test func aHeadInProgressIsVisibleForTheHeaderReadTimeout() throws {
        var parser = HTTP1Parser(mode: .request)
        #expect(!parser.isReadingHead && parser.isIdle)
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\nX-A: 1\r\n"))
        #expect(try parser.next() == nil)
        #expect(parser.isReadingHead)
        parser.append(ByteBuffer(string: "\r\n"))
        guard case .requestHead? = try parser.next() else {
            Issue.record("no head")
            return
        }
        guard case .end? = try parser.next() else {
            Issue.record("no end")
            return
        }
        #expect(!parser.isReadingHead && parser.isIdle)
    }

    @Test func anUpgradeRequestStopsTheParserAtItsEnd() throws {
        var parser = HTTP1Parser(mode: .request)
        parser.append(ByteBuffer(string: "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\u{81}\u{00}frames"))
        guard case .requestHead(_, let info)? = try parser.next(), info.upgrade else {
            Issue.record("no upgrade head")
            return
        }
        guard case .end? = try parser.next() else {
            Issue.record("no end")
            return
        }
        #expect(try parser.next() == nil)
        #expect(parser.isStopped)
        #expect(parser.takeUnparsedBytes().map { String(buffer: $0) } == "\u{81}\u{00}frames")
    }

    @Test func responsesAreFramedByStatusMethodAndFields() throws {
        #expect(
            try self.parse(.response, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n", piece: 3) == [
                .response(status: 200, body: .length(2), keepAlive: true), .body("ok"), .end(trailers: []),
                .response(status: 204, body: .none, keepAlive: true), .end(trailers: []),
            ]
        )
        #expect(
            try self.parse(.response, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method: "HEAD") == [
                .response(status: 200, body: .none, keepAlive: true), .end(trailers: []),
            ]
        )
        #expect(
            try self.parse(
                .response,
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\ngrpc-status: 0\r\n\r\n")
                == [
                    .response(status: 100, body: .none, keepAlive: true), .response(status: 200, body: .chunked, keepAlive: true),
                    .body("ok"),
                    .end(trailers: ["grpc-status: 0"]),
                ]
        )
        #expect(
            try self.parse(.response, "HTTP/1.0 200 OK\r\n\r\nuntil the end", close: true) == [
                .response(status: 200, body: .untilClose, keepAlive: false), .body("until the end"), .end(trailers: []),
            ]
        )
        #expect(
            try self.parse(.response, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") == [
                .response(status: 200, body: .length(0), keepAlive: true), .end(trailers: []),
            ]
        )
    }

    @Test func aResponseCutShortIsAnError() throws {
        var parser = HTTP1Parser(mode: .response)
        parser.expectResponse(toMethod: "GET")
        parser.append(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        while try parser.next() != nil {}
        #expect(throws: HTTP1ParseError.self) { try parser.inputClosed() }
    }

    @Test func switchingProtocolsStopsTheResponseParser() throws {
        var parser = HTTP1Parser(mode: .response)
        parser.expectResponse(toMethod: "GET")
        parser.append(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nserver-first"))
        guard case .responseHead(let head, let info)? = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.status == 101 && info.upgrade)
        guard case .end? = try parser.next() else {
            Issue.record("no end")
            return
        }
        #expect(parser.isStopped)
        #expect(parser.takeUnparsedBytes().map { String(buffer: $0) } == "server-first")
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("GET /HTP1.0\r\n:;, \tContent-Length: 5chunked0123456789abcdefTransfer-Encoding".utf8)
        for round in 0..<3000 {
            var parser = HTTP1Parser(mode: round % 2 == 0 ? .request : .response, limits: .init(maximumHeadBytes: 512))
            parser.expectResponse(toMethod: "GET")
            let count = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<count).map { _ in
                Bool.random(using: &generator) ? alphabet.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            parser.append(ByteBuffer(bytes: bytes))
            do {
                var events = 0
                while try parser.next() != nil, events < 1000 { events += 1 }
                _ = try parser.inputClosed()
            } catch {}
        }
    }
}
