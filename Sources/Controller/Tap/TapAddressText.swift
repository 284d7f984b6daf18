import SwiftletAPI

#if canImport(Glibc)
    import Glibc
#endif

/// A tap event's address as text, `10.0.0.1:8080` or `[fd00::1]:8080`, and back to an IP for lookups.
public enum TapAddressText {
    /// The IP alone (`10.0.0.1`, `fd00::1`); empty when the event has none.
    public static func ip(_ address: Swiftlet_Tap_V1_IPAddress) -> String {
        switch address.ip {
        case .ipv4(let value):
            return "\(value >> 24 & 0xFF).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .ipv6(let value):
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: value.first >> (56 - 8 * UInt64(index)))
                bytes[8 + index] = UInt8(truncatingIfNeeded: value.last >> (56 - 8 * UInt64(index)))
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let written = bytes.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
            guard written != nil else { return "" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case nil:
            return ""
        }
    }

    /// `ip:port`, IPv6 in brackets; empty when the event has no address.
    public static func text(_ address: Swiftlet_Tap_V1_TcpAddress) -> String {
        let ip = Self.ip(address.ip)
        guard !ip.isEmpty else { return "" }
        return ip.contains(":") ? "[\(ip)]:\(address.port)" : "\(ip):\(address.port)"
    }
}
