import NIOCore
import ProxyCore
import Testing

@Suite struct ProtocolDetectorTests {
    let detector = ProtocolDetector()

    func verdict(_ text: String) -> ProtocolDetector.Verdict {
        self.detector.inspect(ByteBuffer(string: text))
    }

    func verdict(_ bytes: [UInt8]) -> ProtocolDetector.Verdict {
        self.detector.inspect(ByteBuffer(bytes: bytes))
    }

    @Test func recognisesAnHTTP1RequestLine() {
        #expect(self.verdict("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n") == .detected(.http1))
        #expect(self.verdict("POST /api?q=1 HTTP/1.0\r\n") == .detected(.http1))
    }

    @Test func waitsForTheRestOfAPartialRequestLine() {
        let line = Array("GET /a HTTP/1.1\r\n".utf8)
        for cut in 1..<line.count {
            #expect(self.verdict(Array(line.prefix(cut))) == .needMoreData, "cut at \(cut)")
        }
    }

    @Test func recognisesTheHTTP2PrefaceAndWaitsForAllOfIt() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        #expect(self.verdict(preface) == .detected(.http2))
        let bytes = Array(preface.utf8)
        for cut in [3, 10, 16, 20, 23] {
            #expect(self.verdict(Array(bytes.prefix(cut))) == .needMoreData, "cut at \(cut)")
        }
    }

    @Test func anythingElseIsOpaqueAsSoonAsItCannotBeHTTP() {
        #expect(self.verdict([0x00, 0x01, 0x02]) == .detected(.opaque))
        #expect(self.verdict("SSH-2.0-OpenSSH_9.2\r\n") == .detected(.opaque))
        #expect(self.verdict("GET /a HTTP/2.0\r\n") == .detected(.opaque))
        #expect(self.verdict("GET  /a HTTP/1.1\r\n") == .detected(.opaque))
        #expect(self.verdict("*1\r\n$4\r\nPING\r\n") == .detected(.opaque))
    }

    @Test func anOverlongLineWithoutAVerdictIsOpaque() {
        let long = "GET /" + String(repeating: "a", count: ProtocolDetector.maximumPeekBytes)
        #expect(self.verdict(long) == .detected(.opaque))
    }

    @Test func givingUpMeansOpaque() {
        #expect(self.detector.giveUp() == .opaque)
    }

    @Test func recognisesAClientHelloAndItsServerName() {
        let hello = TLSFixtures.clientHello(serverName: "web.default.svc.cluster.local")
        #expect(self.verdict(hello) == .detected(.tls(serverName: "web.default.svc.cluster.local")))
    }

    @Test func aClientHelloWithoutSNIIsStillTLS() {
        #expect(self.verdict(TLSFixtures.clientHello(serverName: nil)) == .detected(.tls(serverName: nil)))
    }

    @Test func aClientHelloArrivingInPiecesIsWaitedFor() {
        let hello = TLSFixtures.clientHello(serverName: "a.example")
        for cut in [1, 5, 9, 40, hello.count - 1] {
            #expect(self.verdict(Array(hello.prefix(cut))) == .needMoreData, "cut at \(cut)")
        }
    }

    @Test func aClientHelloSplitAcrossRecordsIsReassembled() {
        let hello = TLSFixtures.clientHello(serverName: "split.example", recordSize: 30)
        #expect(self.verdict(hello) == .detected(.tls(serverName: "split.example")))
    }

    @Test func corruptLengthsInAClientHelloAreRejectedNotTrusted() {
        var hello = TLSFixtures.clientHello(serverName: "x.example")
        // Claim an extensions block longer than the message.
        hello[hello.count - 20] = 0xFF
        let verdict = self.verdict(hello)
        #expect(
            verdict == .detected(.opaque) || verdict == .detected(.tls(serverName: nil))
                || verdict == .detected(.tls(serverName: "x.example")))
        // A handshake type that is not ClientHello.
        var serverHello = TLSFixtures.clientHello(serverName: "x.example")
        serverHello[5] = 0x02
        #expect(self.verdict(serverHello) == .detected(.opaque))
    }

    @Test func randomBytesNeverCrashTheDetector() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<300, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty, Bool.random(using: &generator) { bytes[0] = 0x16 }
            if bytes.count > 1, Bool.random(using: &generator) { bytes[1] = 0x03 }
            _ = self.verdict(bytes)
        }
    }
}

/// Builds TLS ClientHello records by hand (RFC 8446 §4.1.2), so the parser is tested against the wire format
/// rather than against itself.
enum TLSFixtures {
    static func clientHello(serverName: String?, recordSize: Int = 16384) -> [UInt8] {
        var extensions: [UInt8] = []
        if let serverName {
            let name = Array(serverName.utf8)
            var list: [UInt8] = [0x00] + u16(name.count) + name
            list = u16(list.count) + list
            extensions += u16(0x0000) + u16(list.count) + list
        }
        // supported_versions: TLS 1.3
        extensions += u16(0x002B) + u16(3) + [0x02, 0x03, 0x04]
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32)
        body += [0x20] + [UInt8](repeating: 1, count: 32)  // session id
        body += u16(4) + [0x13, 0x01, 0x13, 0x02]  // cipher suites
        body += [0x01, 0x00]  // compression: null
        body += u16(extensions.count) + extensions
        let handshake: [UInt8] = [0x01, UInt8(body.count >> 16), UInt8((body.count >> 8) & 0xFF), UInt8(body.count & 0xFF)] + body
        var records: [UInt8] = []
        var offset = 0
        while offset < handshake.count {
            let chunk = Array(handshake[offset..<min(offset + recordSize, handshake.count)])
            records += [0x16, 0x03, 0x01] + u16(chunk.count) + chunk
            offset += chunk.count
        }
        return records
    }

    static func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}
