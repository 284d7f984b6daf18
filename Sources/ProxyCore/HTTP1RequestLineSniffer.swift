/// Recognises an HTTP/1.x request line (`METHOD SP request-target SP HTTP/1.x CRLF`) byte by byte.
///
/// It rules a connection out at the first byte that cannot belong to a request line, so an opaque protocol
/// is recognised without waiting for a line end that may never come.
enum HTTP1RequestLineSniffer {
    enum Result: Equatable { case requestLine, needMoreData, notHTTP1 }

    static let maximumMethodLength = 32

    static func sniff(_ bytes: UnsafeRawBufferPointer) -> Result {
        var index = 0
        // method = token
        while index < bytes.count, bytes[index] != UInt8(ascii: " ") {
            guard isTokenCharacter(bytes[index]), index < maximumMethodLength else { return .notHTTP1 }
            index += 1
        }
        if index == bytes.count { return .needMoreData }
        guard index > 0 else { return .notHTTP1 }
        index += 1
        // request-target: visible ASCII, no spaces
        let targetStart = index
        while index < bytes.count, bytes[index] != UInt8(ascii: " ") {
            guard bytes[index] > 0x20, bytes[index] < 0x7F else { return .notHTTP1 }
            index += 1
        }
        if index == bytes.count { return .needMoreData }
        guard index > targetStart else { return .notHTTP1 }
        index += 1
        // HTTP/1.x CRLF
        let version = Array("HTTP/1.".utf8)
        for expected in version {
            if index == bytes.count { return .needMoreData }
            guard bytes[index] == expected else { return .notHTTP1 }
            index += 1
        }
        if index == bytes.count { return .needMoreData }
        guard bytes[index] == UInt8(ascii: "0") || bytes[index] == UInt8(ascii: "1") else { return .notHTTP1 }
        index += 1
        if index == bytes.count { return .needMoreData }
        guard bytes[index] == UInt8(ascii: "\r") else { return .notHTTP1 }
        index += 1
        if index == bytes.count { return .needMoreData }
        return bytes[index] == UInt8(ascii: "\n") ? .requestLine : .notHTTP1
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
