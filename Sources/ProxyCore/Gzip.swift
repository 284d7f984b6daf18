/// gzip (RFC 1952) of one buffer: LZ77 over a 32 KiB window with DEFLATE's fixed Huffman codes (RFC 1951 §3.2.6).
/// Small and dependency-free (the proxy links no zlib), for the admin server's `/metrics` when a scraper asks for
/// `Accept-Encoding: gzip`: Prometheus text, with its repeated label sets, shrinks several times over.
public enum Gzip {
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var out = BitWriter()
        out.bytes = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]  // magic, deflate, no flags, no time, unknown OS
        out.write(1, count: 1)  // the final block
        out.write(1, count: 2)  // fixed Huffman codes
        Self.deflate(input, into: &out)
        Self.writeLiteral(256, into: &out)  // end of block
        out.flush()
        let crc = Self.crc32(input)
        let size = UInt32(truncatingIfNeeded: input.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.bytes.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { out.bytes.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        return out.bytes
    }

    static let window = 32_768
    static let maxMatch = 258
    static let maxChain = 32

    private static func deflate(_ input: [UInt8], into out: inout BitWriter) {
        let count = input.count
        var head = [Int32](repeating: -1, count: 1 << 15)
        var previous = [Int32](repeating: -1, count: Self.window)
        func hash(_ at: Int) -> Int {
            (Int(input[at]) << 10 ^ Int(input[at + 1]) << 5 ^ Int(input[at + 2])) & 0x7FFF
        }
        func insert(_ at: Int) {
            guard at + 2 < count else { return }
            let h = hash(at)
            previous[at % Self.window] = head[h]
            head[h] = Int32(at)
        }
        var position = 0
        while position < count {
            var bestLength = 0
            var bestDistance = 0
            if position + 2 < count {
                var candidate = Int(head[hash(position)])
                var chain = 0
                let limit = min(Self.maxMatch, count - position)
                while candidate >= 0, position - candidate <= Self.window, chain < Self.maxChain {
                    if input[candidate + bestLength] == input[position + bestLength] {
                        var length = 0
                        while length < limit, input[candidate + length] == input[position + length] { length += 1 }
                        if length > bestLength {
                            bestLength = length
                            bestDistance = position - candidate
                            if length == limit { break }
                        }
                    }
                    let next = Int(previous[candidate % Self.window])
                    guard next < candidate else { break }
                    candidate = next
                    chain += 1
                }
            }
            if bestLength >= 3 {
                Self.writeMatch(length: bestLength, distance: bestDistance, into: &out)
                for offset in 0..<bestLength { insert(position + offset) }
                position += bestLength
            } else {
                Self.writeLiteral(Int(input[position]), into: &out)
                insert(position)
                position += 1
            }
        }
    }

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
        16385, 24577,
    ]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    private static func writeMatch(length: Int, distance: Int, into out: inout BitWriter) {
        var code = Self.lengthBase.count - 1
        while Self.lengthBase[code] > length { code -= 1 }
        Self.writeLiteral(257 + code, into: &out)
        out.write(UInt32(length - Self.lengthBase[code]), count: Self.lengthExtra[code])
        var distanceCode = Self.distanceBase.count - 1
        while Self.distanceBase[distanceCode] > distance { distanceCode -= 1 }
        out.write(Self.reversed(UInt32(distanceCode), count: 5), count: 5)
        out.write(UInt32(distance - Self.distanceBase[distanceCode]), count: Self.distanceExtra[distanceCode])
    }

    /// A literal/length symbol in the fixed code (Huffman codes go most significant bit first).
    private static func writeLiteral(_ symbol: Int, into out: inout BitWriter) {
        let (code, count): (Int, Int) =
            switch symbol {
            case 0...143: (0x30 + symbol, 8)
            case 144...255: (0x190 + symbol - 144, 9)
            case 256...279: (symbol - 256, 7)
            default: (0xC0 + symbol - 280, 8)
            }
        out.write(Self.reversed(UInt32(code), count: count), count: count)
    }

    static func reversed(_ value: UInt32, count: Int) -> UInt32 {
        var result: UInt32 = 0
        for bit in 0..<count where value & (1 << UInt32(bit)) != 0 { result |= 1 << UInt32(count - 1 - bit) }
        return result
    }

    static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = Self.crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// Bits into bytes, least significant bit first, as DEFLATE packs them.
    struct BitWriter {
        var bytes: [UInt8] = []
        private var pending: UInt32 = 0
        private var pendingCount = 0

        mutating func write(_ value: UInt32, count: Int) {
            guard count > 0 else { return }
            self.pending |= value << UInt32(self.pendingCount)
            self.pendingCount += count
            while self.pendingCount >= 8 {
                self.bytes.append(UInt8(truncatingIfNeeded: self.pending))
                self.pending >>= 8
                self.pendingCount -= 8
            }
        }

        mutating func flush() {
            if self.pendingCount > 0 { self.bytes.append(UInt8(truncatingIfNeeded: self.pending)) }
            self.pending = 0
            self.pendingCount = 0
        }
    }
}
