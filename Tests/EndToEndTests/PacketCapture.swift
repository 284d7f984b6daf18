import Foundation

/// The TCP payloads of a pcap file (Ethernet, IPv4), as tcpdump writes it: what actually crossed the wire.
enum PacketCapture {
    static func tcpPayloads(_ file: URL) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: file))
        guard bytes.count >= 24 else { throw HarnessError("\(file.path) is not a pcap file") }
        let magic = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        guard magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d else { throw HarnessError("\(file.path): unexpected pcap magic \(magic)") }
        func le32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        guard le32(20) == 1 else { throw HarnessError("\(file.path): not an Ethernet capture") }
        var payloads: [[UInt8]] = []
        var offset = 24
        while offset + 16 <= bytes.count {
            let length = le32(offset + 8)
            let frame = offset + 16
            offset = frame + length
            guard offset <= bytes.count, length > 14 + 20 else { continue }
            guard bytes[frame + 12] == 0x08, bytes[frame + 13] == 0x00 else { continue }  // IPv4
            let ip = frame + 14
            let ipHeader = Int(bytes[ip] & 0x0f) * 4
            let ipTotal = Int(bytes[ip + 2]) << 8 | Int(bytes[ip + 3])
            guard bytes[ip + 9] == 6, ip + ipHeader + 20 <= offset else { continue }  // TCP
            let tcp = ip + ipHeader
            let tcpHeader = Int(bytes[tcp + 12] >> 4) * 4
            let end = min(ip + ipTotal, offset)
            guard tcp + tcpHeader < end else { continue }
            payloads.append(Array(bytes[(tcp + tcpHeader)..<end]))
        }
        return payloads
    }

    static func contains(_ payload: [UInt8], _ text: String) -> Bool {
        KeyScanner.find(Array(text.utf8), in: payload, from: 0) != nil
    }
}
