#if canImport(Glibc)
    import Glibc
#endif

/// An IP address as bytes (4 or 16, network order), parsed once from text: what a netmask match compares and what
/// `TcpAddress.ip` encodes (Linkerd's shape: IPv4 as one number, IPv6 as two).
public struct TapAddress: Hashable, Sendable {
    public let bytes: [UInt8]

    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            // An IPv4-mapped address (`::ffff:10.0.0.1`, how a dual-stack listener sees IPv4 clients) is the IPv4 one.
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                self.bytes = Array(bytes[12...])
            } else {
                self.bytes = bytes
            }
        } else {
            return nil
        }
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// The first `bits` bits equal `other`'s (the same family only); `bits` 0 or past the length: all of them.
    public func matches(_ other: TapAddress, bits: Int) -> Bool {
        guard self.bytes.count == other.bytes.count else { return false }
        let length = self.bytes.count * 8
        let bits = bits <= 0 || bits > length ? length : bits
        let whole = bits / 8
        guard self.bytes[..<whole] == other.bytes[..<whole] else { return false }
        let rest = bits % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - rest)
        return self.bytes[whole] & mask == other.bytes[whole] & mask
    }

    /// Big-endian, as `fixed32 ipv4`.
    var ipv4: UInt32? {
        guard self.bytes.count == 4 else { return nil }
        return self.bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Big-endian halves, as `IPv6 { fixed64 first; fixed64 last }`.
    var ipv6: (first: UInt64, last: UInt64)? {
        guard self.bytes.count == 16 else { return nil }
        return (self.bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, self.bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }
}
