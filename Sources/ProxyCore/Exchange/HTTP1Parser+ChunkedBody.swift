import NIOCore

/// Chunked bodies: chunk sizes, the CRLF after each chunk's data, and the trailer section.
extension HTTP1Parser {
    /// Reads one line (without its terminator), if all of it is there; longer than `limit` is an error.
    mutating func readLine(limit: Int) throws(HTTP1ParseError) -> ByteBuffer? {
        guard var pending = self.pending, pending.readableBytes > 0 else { return nil }
        let newline = pending.withUnsafeReadableBytes { HTTPBytes.newline(in: $0, from: 0) }
        guard let newline else {
            if pending.readableBytes > limit { throw HTTP1ParseError(.malformed, "a chunk line over \(limit) bytes") }
            return nil
        }
        guard newline <= limit else { throw HTTP1ParseError(.malformed, "a chunk line over \(limit) bytes") }
        var line = pending.readSlice(length: newline)!
        pending.moveReaderIndex(forwardBy: 1)
        self.pending = pending
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == 0x0d {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        return line
    }

    mutating func parseChunkSize() throws(HTTP1ParseError) -> Event? {
        // A size, maybe extensions (ignored), CRLF. Extensions are bounded with the line.
        guard let line = try self.readLine(limit: 4096) else { return nil }
        var size = 0
        var digits = 0
        var sawEnd = false
        for byte in line.readableBytesView {
            if sawEnd {
                continue
            }
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - 0x41 + 10)
            case UInt8(ascii: ";"), 0x20, 0x09:
                sawEnd = true
                continue
            default:
                throw HTTP1ParseError(.malformed, "an invalid chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw HTTP1ParseError(.malformed, "a chunk size too large") }
            size = size * 16 + value
        }
        guard digits > 0 else { throw HTTP1ParseError(.malformed, "an invalid chunk size") }
        if size == 0 {
            self.state = .trailers
            return try self.parseTrailers()
        }
        self.state = .chunkData(remaining: size)
        return try self.next()
    }

    mutating func parseTrailers() throws(HTTP1ParseError) -> Event? {
        guard let pending = self.pending, pending.readableBytes > 0 else { return nil }
        // No trailers: just the final CRLF.
        if let first = pending.getInteger(at: pending.readerIndex, as: UInt8.self), first == 0x0a || first == 0x0d {
            guard let line = try self.readLine(limit: 2) else { return nil }
            guard line.readableBytes == 0 else { throw HTTP1ParseError(.malformed, "invalid chunked trailer section") }
            return self.endMessage(trailers: nil)
        }
        // Trailer fields, then an empty line: the same shape as a head's fields, preceded by an empty line here.
        var probe = pending
        guard let length = Self.trailersLength(probe) else {
            if probe.readableBytes > self.limits.maximumHeadBytes {
                throw HTTP1ParseError(.headTooLarge, "trailers over \(self.limits.maximumHeadBytes) bytes")
            }
            return nil
        }
        let block = probe.readSlice(length: length)!
        self.pending = probe
        let fields = try block.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> [WireFields.Range] in
            var lines = Lines(raw: raw)
            var framing = Framing()
            return try Self.parseFields(&lines, raw: raw, limits: self.limits, framing: &framing)
        }
        return self.endMessage(trailers: HTTPFields(wire: WireFields(bytes: block, ranges: fields)))
    }

    /// Fields then an empty line, starting at the first field (unlike a head, which starts with a request line).
    static func trailersLength(_ buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { raw -> Int? in
            var index = 0
            while index < raw.count {
                guard let at = HTTPBytes.newline(in: raw, from: index) else { return nil }
                let lineLength = at - index
                if lineLength == 0 || (lineLength == 1 && raw[index] == 0x0d) { return at + 1 }
                index = at + 1
            }
            return nil
        }
    }
}
