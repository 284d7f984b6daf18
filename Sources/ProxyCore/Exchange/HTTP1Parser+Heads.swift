import NIOCore

/// Heads: where one ends, and request, status and field lines parsed into the compact form, noting on the way
/// what decides framing and the connection.
extension HTTP1Parser {
    /// The length of the head at the start of `buffer` (through its empty line), if it is all there.
    static func headLength(_ buffer: ByteBuffer, from scanned: Int) -> Int? {
        buffer.withUnsafeReadableBytes { raw -> Int? in
            var index = max(scanned, 0)
            while index < raw.count {
                guard let at = HTTPBytes.newline(in: raw, from: index) else { return nil }
                // LF LF, or LF CR LF: the empty line that ends the head.
                if at + 1 < raw.count, raw[at + 1] == 0x0a { return at + 2 }
                if at + 2 < raw.count, raw[at + 1] == 0x0d, raw[at + 2] == 0x0a { return at + 3 }
                index = at + 1
            }
            return nil
        }
    }

    /// Lines of a head: the first line, then each field line, each without its terminator.
    struct Lines {
        let raw: UnsafeRawBufferPointer
        var index = 0

        mutating func next() throws(HTTP1ParseError) -> Range<Int>? {
            guard index < raw.count else { return nil }
            let start = index
            guard var end = HTTPBytes.newline(in: raw, from: start) else { return nil }
            self.index = end + 1
            if end > start, raw[end - 1] == 0x0d { end -= 1 }
            return start..<end
        }
    }

    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// What the fields say about framing and the connection, gathered while they are parsed.
    struct Framing {
        var contentLength: Int? = nil
        var transferEncoding = false
        var chunkedLast = false
        var connectionClose = false
        var connectionKeepAlive = false
        var connectionUpgrade = false
        var upgradeField = false
        var hostCount = 0
        var firstHost: Range<Int>? = nil
    }

    /// Parses field lines into ranges of `raw` (offsets from its start), noting what matters for framing.
    static func parseFields(
        _ lines: inout Lines, raw: UnsafeRawBufferPointer, limits: Limits, framing: inout Framing
    ) throws(HTTP1ParseError) -> [WireFields.Range] {
        var ranges: [WireFields.Range] = []
        ranges.reserveCapacity(16)
        while let line = try lines.next() {
            if line.isEmpty { break }
            guard ranges.count < limits.maximumFields else {
                throw HTTP1ParseError(.headTooLarge, "more than \(limits.maximumFields) fields")
            }
            let first = raw[line.lowerBound]
            guard first != 0x20, first != 0x09 else { throw HTTP1ParseError(.malformed, "a folded field line (obsolete line folding)") }
            var colon = line.lowerBound
            while colon < line.upperBound, raw[colon] != UInt8(ascii: ":") {
                guard Self.isTokenCharacter(raw[colon]) else {
                    throw HTTP1ParseError(.malformed, "a field line without a valid name and colon")
                }
                colon += 1
            }
            guard colon < line.upperBound, colon > line.lowerBound else {
                throw HTTP1ParseError(.malformed, "a field line without a name and colon")
            }
            var valueStart = colon + 1
            while valueStart < line.upperBound, raw[valueStart] == 0x20 || raw[valueStart] == 0x09 { valueStart += 1 }
            var valueEnd = line.upperBound
            while valueEnd > valueStart, raw[valueEnd - 1] == 0x20 || raw[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            for index in valueStart..<valueEnd {
                let byte = raw[index]
                guard byte >= 0x20 || byte == 0x09, byte != 0x7f else {
                    throw HTTP1ParseError(.malformed, "a control character in a field value")
                }
            }
            let name = UnsafeRawBufferPointer(rebasing: raw[line.lowerBound..<colon])
            let value = UnsafeRawBufferPointer(rebasing: raw[valueStart..<valueEnd])
            try Self.noteFraming(name: name, value: value, range: valueStart..<valueEnd, into: &framing)
            ranges.append(
                WireFields.Range(
                    nameStart: UInt32(line.lowerBound), nameLength: UInt32(colon - line.lowerBound), valueStart: UInt32(valueStart),
                    valueLength: UInt32(valueEnd - valueStart)
                )
            )
        }
        return ranges
    }

    static func noteFraming(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, range: Range<Int>, into framing: inout Framing)
        throws(HTTP1ParseError)
    {
        switch name.count {
        case 4 where HTTPBytes.equal(name, "host"):
            framing.hostCount += 1
            framing.firstHost = framing.firstHost ?? range
        case 10 where HTTPBytes.equal(name, "connection"):
            HTTPBytes.forEachElement(value) { token in
                if HTTPBytes.equal(token, "close") { framing.connectionClose = true }
                if HTTPBytes.equal(token, "keep-alive") { framing.connectionKeepAlive = true }
                if HTTPBytes.equal(token, "upgrade") { framing.connectionUpgrade = true }
                return true
            }
        case 7 where HTTPBytes.equal(name, "upgrade"):
            framing.upgradeField = true
        case 14 where HTTPBytes.equal(name, "content-length"):
            // `42` or a list of the same length (`42, 42`); anything else is refused (RFC 9110 §8.6).
            try HTTPBytes.forEachElement(value, includingEmpty: true) { digits throws(HTTP1ParseError) in
                guard !digits.isEmpty, digits.count <= 18 else { throw HTTP1ParseError(.malformed, "an invalid Content-Length") }
                var length = 0
                for digit in digits {
                    guard digit >= 0x30, digit <= 0x39 else { throw HTTP1ParseError(.malformed, "an invalid Content-Length") }
                    length = length * 10 + Int(digit - 0x30)
                }
                if let known = framing.contentLength, known != length {
                    throw HTTP1ParseError(.malformed, "conflicting Content-Length values")
                }
                framing.contentLength = length
                return true
            }
        case 17 where HTTPBytes.equal(name, "transfer-encoding"):
            framing.transferEncoding = true
            // A later field's codings follow an earlier one's: only the very last coding decides.
            var last: UnsafeRawBufferPointer? = nil
            HTTPBytes.forEachElement(value) { coding in
                last = coding
                return true
            }
            framing.chunkedLast = last.map { HTTPBytes.equal($0, "chunked") } ?? false
        default:
            break
        }
    }

    static func parseVersion(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1ParseError) -> HTTPVersionNumber {
        guard range.count == 8, raw[range.lowerBound] == UInt8(ascii: "H"), raw[range.lowerBound + 1] == UInt8(ascii: "T"),
            raw[range.lowerBound + 2] == UInt8(ascii: "T"), raw[range.lowerBound + 3] == UInt8(ascii: "P"),
            raw[range.lowerBound + 4] == UInt8(ascii: "/"), raw[range.lowerBound + 5] == UInt8(ascii: "1"),
            raw[range.lowerBound + 6] == UInt8(ascii: ".")
        else { throw HTTP1ParseError(.malformed, "not an HTTP/1 version") }
        switch raw[range.lowerBound + 7] {
        case UInt8(ascii: "1"): return .http1_1
        case UInt8(ascii: "0"): return .http1_0
        default: throw HTTP1ParseError(.malformed, "an unsupported HTTP/1 version")
        }
    }

    static func parseRequest(_ head: ByteBuffer, limits: Limits) throws(HTTP1ParseError) -> (HTTPRequestHead, MessageInfo) {
        try head.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> (HTTPRequestHead, MessageInfo) in
            var lines = Lines(raw: raw)
            guard let first = try lines.next(), !first.isEmpty else { throw HTTP1ParseError(.malformed, "no request line") }
            // method SP request-target SP HTTP-version
            var cursor = first.lowerBound
            while cursor < first.upperBound, raw[cursor] != 0x20 {
                guard Self.isTokenCharacter(raw[cursor]) else { throw HTTP1ParseError(.malformed, "an invalid method") }
                cursor += 1
            }
            let methodEnd = cursor
            guard methodEnd > first.lowerBound, methodEnd < first.upperBound else {
                throw HTTP1ParseError(.malformed, "an invalid request line")
            }
            let targetStart = methodEnd + 1
            cursor = targetStart
            while cursor < first.upperBound, raw[cursor] != 0x20 {
                guard raw[cursor] > 0x20, raw[cursor] != 0x7f else {
                    throw HTTP1ParseError(.malformed, "a control character in the request target")
                }
                cursor += 1
            }
            let targetEnd = cursor
            guard targetEnd > targetStart, targetEnd < first.upperBound else {
                throw HTTP1ParseError(.malformed, "an invalid request line")
            }
            let version = try Self.parseVersion(raw, (targetEnd + 1)..<first.upperBound)

            var framing = Framing()
            let ranges = try Self.parseFields(&lines, raw: raw, limits: limits, framing: &framing)
            guard framing.hostCount <= 1 else { throw HTTP1ParseError(.malformed, "more than one Host field") }
            // Both framings at once is how requests are smuggled: refuse it (RFC 9112 §6.1).
            if framing.transferEncoding {
                guard framing.contentLength == nil else { throw HTTP1ParseError(.malformed, "both Transfer-Encoding and Content-Length") }
                guard framing.chunkedLast else {
                    throw HTTP1ParseError(.malformed, "a request transfer coding that does not end with chunked")
                }
                guard version == .http1_1 else { throw HTTP1ParseError(.malformed, "Transfer-Encoding in an HTTP/1.0 request") }
            }

            let method = String(decoding: UnsafeRawBufferPointer(rebasing: raw[first.lowerBound..<methodEnd]), as: UTF8.self)
            let target = UnsafeRawBufferPointer(rebasing: raw[targetStart..<targetEnd])
            var request = HTTPRequestHead(method: method, path: "", version: version)
            var absoluteForm = false
            if target.first == UInt8(ascii: "/") || (target.count == 1 && target.first == UInt8(ascii: "*")) {
                request.path = String(decoding: target, as: UTF8.self)
            } else if method == "CONNECT" {
                request.path = String(decoding: target, as: UTF8.self)
                request.authority = request.path
            } else {
                let (scheme, authority, path) = try Self.splitAbsoluteForm(target)
                request.scheme = scheme
                request.authority = authority
                request.path = path
                absoluteForm = true
            }
            if request.authority == nil, let host = framing.firstHost {
                request.authority = String(decoding: UnsafeRawBufferPointer(rebasing: raw[host]), as: UTF8.self)
            }
            request.fields = HTTPFields(wire: WireFields(bytes: head, ranges: ranges))

            let keepAlive = version == .http1_1 ? !framing.connectionClose : framing.connectionKeepAlive && !framing.connectionClose
            let body: BodyKind = framing.transferEncoding ? .chunked : framing.contentLength.map { .length($0) } ?? .none
            let upgrade = (framing.upgradeField && framing.connectionUpgrade) || method == "CONNECT"
            return (request, MessageInfo(body: body, keepAlive: keepAlive, upgrade: upgrade, absoluteForm: absoluteForm))
        }
    }

    /// `http://host:port/path?query` → (`http`, `host:port`, `/path?query`).
    static func splitAbsoluteForm(_ target: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> (String, String, String) {
        guard let colon = target.firstIndex(of: UInt8(ascii: ":")), colon + 2 < target.count,
            target[colon + 1] == UInt8(ascii: "/"), target[colon + 2] == UInt8(ascii: "/")
        else { throw HTTP1ParseError(.malformed, "a request target in no known form") }
        let scheme = String(decoding: UnsafeRawBufferPointer(rebasing: target[0..<colon]), as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw HTTP1ParseError(.malformed, "an absolute-form target with scheme \(scheme)")
        }
        let authorityStart = colon + 3
        var authorityEnd = authorityStart
        while authorityEnd < target.count, target[authorityEnd] != UInt8(ascii: "/"), target[authorityEnd] != UInt8(ascii: "?") {
            // Userinfo in a target is deprecated and a classic way of disguising where a request goes.
            guard target[authorityEnd] != UInt8(ascii: "@") else { throw HTTP1ParseError(.malformed, "userinfo in the request target") }
            authorityEnd += 1
        }
        guard authorityEnd > authorityStart else { throw HTTP1ParseError(.malformed, "an absolute-form target without a host") }
        let authority = String(decoding: UnsafeRawBufferPointer(rebasing: target[authorityStart..<authorityEnd]), as: UTF8.self)
        var path = String(decoding: UnsafeRawBufferPointer(rebasing: target[authorityEnd...]), as: UTF8.self)
        if path.isEmpty {
            path = "/"
        } else if path.utf8.first == UInt8(ascii: "?") {
            path = "/" + path
        }
        return (scheme, authority, path)
    }

    static func parseResponse(
        _ head: ByteBuffer, limits: Limits, answeringHEAD: Bool, answeringCONNECT: Bool
    ) throws(HTTP1ParseError) -> (HTTPResponseHead, MessageInfo) {
        try head.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> (HTTPResponseHead, MessageInfo) in
            var lines = Lines(raw: raw)
            guard let first = try lines.next(), first.count >= 12 else { throw HTTP1ParseError(.malformed, "no status line") }
            let version = try Self.parseVersion(raw, first.lowerBound..<(first.lowerBound + 8))
            guard raw[first.lowerBound + 8] == 0x20 else { throw HTTP1ParseError(.malformed, "an invalid status line") }
            var status = 0
            for index in (first.lowerBound + 9)..<(first.lowerBound + 12) {
                let digit = raw[index]
                guard digit >= 0x30, digit <= 0x39 else { throw HTTP1ParseError(.malformed, "an invalid status code") }
                status = status * 10 + Int(digit - 0x30)
            }
            guard status >= 100, first.count == 12 || raw[first.lowerBound + 12] == 0x20 else {
                throw HTTP1ParseError(.malformed, "an invalid status line")
            }
            var framing = Framing()
            let ranges = try Self.parseFields(&lines, raw: raw, limits: limits, framing: &framing)
            let response = HTTPResponseHead(
                status: status, version: version, fields: HTTPFields(wire: WireFields(bytes: head, ranges: ranges)))

            var keepAlive = version == .http1_1 ? !framing.connectionClose : framing.connectionKeepAlive && !framing.connectionClose
            let body: BodyKind
            var upgrade = false
            if status == 101 || (answeringCONNECT && status >= 200 && status < 300) {
                body = .none
                upgrade = true
                keepAlive = false
            } else if response.isInformational || answeringHEAD || status == 204 || status == 304 {
                body = .none
            } else if framing.transferEncoding {
                if framing.contentLength != nil {
                    // RFC 9112 §6.3: Transfer-Encoding wins, and the connection must not be reused.
                    keepAlive = false
                }
                body = framing.chunkedLast ? .chunked : .untilClose
            } else if let length = framing.contentLength {
                body = .length(length)
            } else {
                body = .untilClose
            }
            if body == .untilClose { keepAlive = false }
            return (response, MessageInfo(body: body, keepAlive: keepAlive, upgrade: upgrade, absoluteForm: false))
        }
    }
}
