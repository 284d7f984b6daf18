/// PEM text of DER bytes, without Foundation (the trust anchors are kept as PEM between renewals).
enum PEM {
    static func certificate(der: [UInt8]) -> String {
        var text = "-----BEGIN CERTIFICATE-----\n"
        let encoded = Self.base64(der)
        var line = encoded.startIndex
        while line < encoded.endIndex {
            let end = encoded.index(line, offsetBy: 64, limitedBy: encoded.endIndex) ?? encoded.endIndex
            text += String(decoding: encoded[line..<end], as: UTF8.self) + "\n"
            line = end
        }
        return text + "-----END CERTIFICATE-----\n"
    }

    static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(value >> UInt32(shift) & 63)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return out
    }
}
