/// Extracts the SNI from a TLS ClientHello without terminating TLS.
///
/// Reads TLS records (RFC 8446 §5.1), reassembling a handshake message split across records, then walks the
/// ClientHello (§4.1.2) to the `server_name` extension (RFC 6066 §3). Every length is bounds-checked: the input
/// comes straight from the network.
public enum ClientHelloParser {
    public enum Result: Equatable, Sendable {
        case needMoreData
        case clientHello(serverName: String?)
        case notClientHello
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result {
        // Reassemble the handshake layer from consecutive handshake records.
        var handshake: [UInt8] = []
        var offset = 0
        var neededHandshakeLength: Int? = nil
        while true {
            if let needed = neededHandshakeLength, handshake.count >= needed { break }
            guard bytes.count - offset >= 5 else { return .needMoreData }
            guard bytes[offset] == 0x16, bytes[offset + 1] == 0x03 else { return .notClientHello }
            let recordLength = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard recordLength > 0, recordLength <= 16384 + 2048 else { return .notClientHello }
            let available = min(recordLength, bytes.count - offset - 5)
            handshake.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + available)]))
            if neededHandshakeLength == nil, handshake.count >= 4 {
                guard handshake[0] == 0x01 else { return .notClientHello }
                let length = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard length <= 64 * 1024 else { return .notClientHello }
                neededHandshakeLength = length + 4
            }
            if available < recordLength {
                return .needMoreData
            }
            offset += 5 + recordLength
        }
        guard let needed = neededHandshakeLength else { return .needMoreData }
        return self.parseClientHello(handshake[4..<needed])
    }

    static func parseClientHello(_ body: ArraySlice<UInt8>) -> Result {
        var reader = Reader(bytes: body)
        guard reader.skip(2 + 32),  // legacy_version, random
            let sessionIDLength = reader.uint8(), reader.skip(Int(sessionIDLength)),
            let cipherSuitesLength = reader.uint16(), cipherSuitesLength % 2 == 0, reader.skip(Int(cipherSuitesLength)),
            let compressionLength = reader.uint8(), reader.skip(Int(compressionLength))
        else { return .notClientHello }
        if reader.isAtEnd { return .clientHello(serverName: nil) }  // no extensions at all
        guard let extensionsLength = reader.uint16(), var extensions = reader.sub(Int(extensionsLength)) else {
            return .notClientHello
        }
        while !extensions.isAtEnd {
            guard let type = extensions.uint16(), let length = extensions.uint16(),
                var data = extensions.sub(Int(length))
            else { return .notClientHello }
            guard type == 0 else { continue }
            guard let listLength = data.uint16(), var list = data.sub(Int(listLength)) else { return .notClientHello }
            while !list.isAtEnd {
                guard let nameType = list.uint8(), let nameLength = list.uint16(), let name = list.bytes(Int(nameLength))
                else { return .notClientHello }
                if nameType == 0 {
                    guard !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .notClientHello }
                    return .clientHello(serverName: String(decoding: name, as: UTF8.self).lowercased())
                }
            }
            return .clientHello(serverName: nil)
        }
        return .clientHello(serverName: nil)
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>

        var isAtEnd: Bool { self.bytes.isEmpty }

        mutating func uint8() -> UInt8? {
            guard let value = self.bytes.first else { return nil }
            self.bytes = self.bytes.dropFirst()
            return value
        }

        mutating func uint16() -> UInt16? {
            guard self.bytes.count >= 2 else { return nil }
            let index = self.bytes.startIndex
            let value = UInt16(self.bytes[index]) << 8 | UInt16(self.bytes[index + 1])
            self.bytes = self.bytes.dropFirst(2)
            return value
        }

        mutating func skip(_ count: Int) -> Bool {
            guard self.bytes.count >= count else { return false }
            self.bytes = self.bytes.dropFirst(count)
            return true
        }

        mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
            guard self.bytes.count >= count else { return nil }
            let result = self.bytes.prefix(count)
            self.bytes = self.bytes.dropFirst(count)
            return result
        }

        mutating func sub(_ count: Int) -> Reader? {
            self.bytes(count).map { Reader(bytes: $0) }
        }
    }
}
