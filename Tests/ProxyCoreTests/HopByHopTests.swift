import NIOHTTP1
import ProxyCore
import Testing

@Suite struct HopByHopTests {
    @Test func removesConnectionScopedFieldsAndThoseConnectionNames() {
        var headers = HTTPHeaders([
            ("Connection", "keep-alive, X-Secret"), ("Keep-Alive", "timeout=5"), ("X-Secret", "1"),
            ("Proxy-Connection", "keep-alive"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
            ("Content-Type", "text/plain"), ("Trailer", "grpc-status"),
        ])
        headers.removeHopByHopFields()
        #expect(headers.map(\.name).sorted() == ["Content-Type", "Trailer"])
    }

    @Test func keepsTETrailersForGRPC() {
        var headers = HTTPHeaders([("te", "trailers"), ("content-type", "application/grpc")])
        headers.removeHopByHopFields()
        #expect(headers["te"] == ["trailers"])
        var other = HTTPHeaders([("te", "gzip")])
        other.removeHopByHopFields()
        #expect(!other.contains(name: "te"))
    }

    @Test func keepsAnUpgradeWhenAskedAndReportsItsProtocol() {
        var headers = HTTPHeaders([("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")])
        let upgrade = headers.removeHopByHopFields(keepingUpgrade: true)
        #expect(upgrade == "websocket")
        #expect(headers["connection"] == ["upgrade"])
        #expect(headers["upgrade"] == ["websocket"])
        #expect(headers["sec-websocket-key"] == ["k"])
    }

    @Test func anUpgradeHeaderWithoutConnectionUpgradeIsNotAnUpgrade() {
        var headers = HTTPHeaders([("Upgrade", "websocket")])
        #expect(headers.removeHopByHopFields(keepingUpgrade: true) == nil)
        #expect(!headers.contains(name: "upgrade"))
    }

    @Test func keepsTheOrderAndRepeatsOfEndToEndFieldsAndReadsTokensLoosely() {
        var headers = HTTPHeaders([
            ("Set-Cookie", "a=1"), ("connection", " Keep-Alive ,\tX-Hop "), ("x-hop", "gone"), ("Set-Cookie", "b=2"),
            ("Via", "1.1 a"), ("CONNECTION", "close"),
        ])
        headers.removeHopByHopFields()
        #expect(headers.map { "\($0.name): \($0.value)" } == ["Set-Cookie: a=1", "Set-Cookie: b=2", "Via: 1.1 a"])
    }
}
