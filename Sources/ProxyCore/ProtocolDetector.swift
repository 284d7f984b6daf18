import NIOCore

/// Decides, from a connection's first bytes, which protocol it speaks.
///
/// Pure: it is shown the bytes received so far and answers either "need more" or a verdict. The handler owns
/// the buffer, the timeout and the I/O. A verdict is reached as soon as every candidate but one is ruled out,
/// so a client that speaks first costs no wait, and one that waits for the server is opaque after the timeout.
public struct ProtocolDetector: Sendable {
    public enum Verdict: Hashable, Sendable {
        case needMoreData
        case detected(DetectedProtocol)
    }

    /// Past this many bytes without a verdict the connection is opaque: no request line or ClientHello is longer.
    public static let maximumPeekBytes = 16 * 1024 + 5

    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public init() {}

    public func inspect(_ bytes: ByteBuffer) -> Verdict {
        guard bytes.readableBytes > 0 else { return .needMoreData }
        return bytes.withUnsafeReadableBytes { self.inspect(UnsafeRawBufferPointer($0)) }
    }

    public func inspect(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        guard let first = bytes.first else { return .needMoreData }
        if first == 0x16 {
            switch ClientHelloParser.parse(bytes) {
            case .needMoreData:
                return bytes.count >= Self.maximumPeekBytes ? .detected(.opaque) : .needMoreData
            case .clientHello(let serverName):
                return .detected(.tls(serverName: serverName))
            case .notClientHello:
                return .detected(.opaque)
            }
        }
        let preface = Self.prefixMatch(bytes, Self.http2Preface)
        if preface == .complete { return .detected(.http2) }
        switch HTTP1RequestLineSniffer.sniff(bytes) {
        case .requestLine:
            return .detected(.http1)
        case .needMoreData:
            if bytes.count >= Self.maximumPeekBytes { return .detected(.opaque) }
            return .needMoreData
        case .notHTTP1:
            return preface == .partial ? .needMoreData : .detected(.opaque)
        }
    }

    /// The verdict when no more bytes will come in time (timeout or end of input).
    public func giveUp() -> DetectedProtocol { .opaque }

    enum PrefixMatch { case complete, partial, mismatch }

    static func prefixMatch(_ bytes: UnsafeRawBufferPointer, _ expected: [UInt8]) -> PrefixMatch {
        let count = min(bytes.count, expected.count)
        for index in 0..<count where bytes[index] != expected[index] { return .mismatch }
        return bytes.count >= expected.count ? .complete : .partial
    }
}
