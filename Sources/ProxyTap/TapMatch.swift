import NIOCore
import ProxyCore
import ProxyGRPC

/// Linkerd's tap match language (`ObserveRequest.Match`), decoded once when a tap opens and evaluated per request
/// while it is open: `all`, `any`, `not`; the source's and destination's address (netmask) or port range; a
/// destination or route label; HTTP scheme, method, authority and path (exact or prefix).
public indirect enum TapMatch: Equatable, Sendable {
    case all([TapMatch])
    case any([TapMatch])
    case not(TapMatch)
    case source(TCP)
    case destination(TCP)
    case destinationLabel(key: String, value: String)
    case routeLabel(key: String, value: String)
    case scheme(String)
    case method(String)
    case authority(Text)
    case path(Text)

    /// No match given: every request.
    public static let everything = TapMatch.all([])

    public enum TCP: Equatable, Sendable {
        case netmask(TapAddress, bits: Int)
        /// Inclusive.
        case ports(ClosedRange<Int>)

        func matches(_ address: HostPort?) -> Bool {
            guard let address else { return false }
            switch self {
            case .netmask(let network, let bits):
                guard let ip = TapAddress(address.host) else { return false }
                return ip.matches(network, bits: bits)
            case .ports(let range):
                return range.contains(address.port)
            }
        }
    }

    public enum Text: Equatable, Sendable {
        case exact(String)
        case prefix(String)

        func matches(_ value: String) -> Bool {
            switch self {
            case .exact(let expected): value == expected
            case .prefix(let prefix): value.hasPrefix(prefix)
            }
        }
    }

    /// Whether the request (or connection) is one this tap wants. An HTTP condition is false for an opaque
    /// connection; a condition on what is not known yet (a route label before routing) is false.
    public func matches(_ subject: TapSubject) -> Bool {
        switch self {
        case .all(let matches): return matches.allSatisfy { $0.matches(subject) }
        case .any(let matches): return matches.contains { $0.matches(subject) }
        case .not(let match): return !match.matches(subject)
        case .source(let tcp): return tcp.matches(subject.source)
        case .destination(let tcp): return tcp.matches(subject.destination)
        case .destinationLabel(let key, let value): return subject.destinationLabel(key) == value
        case .routeLabel(let key, let value): return subject.routeLabels.contains { $0.name == key && $0.value == value }
        case .scheme(let scheme): return subject.http.map { $0.scheme.lowercased() == scheme.lowercased() } ?? false
        case .method(let method): return subject.http?.method == method
        case .authority(let text): return subject.http.map { text.matches($0.authority) } ?? false
        case .path(let text): return subject.http.map { text.matches($0.path) } ?? false
        }
    }

    // MARK: decoding

    static let registeredMethods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "HEAD", "TRACE"]
    static let registeredSchemes = ["http", "https"]

    /// `Match` from its protobuf bytes; a match with nothing set, or a malformed one, is an `invalidArgument`.
    public init(decoding bytes: ByteBuffer) throws(TapRequestError) {
        do {
            var reader = ProtobufReader(bytes)
            var decoded: TapMatch?
            while let (field, value) = try reader.next() {
                switch field {
                case 1, 2:
                    var seq = ProtobufReader(try value.bytes)
                    var matches: [TapMatch] = []
                    while let (inner, item) = try seq.next() {
                        if inner == 1 { matches.append(try TapMatch(decoding: try item.bytes)) }
                    }
                    decoded = field == 1 ? .all(matches) : .any(matches)
                case 3: decoded = .not(try TapMatch(decoding: try value.bytes))
                case 4: decoded = .source(try Self.tcp(try value.bytes))
                case 5: decoded = .destination(try Self.tcp(try value.bytes))
                case 6: decoded = try Self.http(try value.bytes)
                case 7, 8:
                    let (key, label) = try Self.label(try value.bytes)
                    decoded = field == 7 ? .destinationLabel(key: key, value: label) : .routeLabel(key: key, value: label)
                default: continue
                }
            }
            guard let decoded else { throw TapRequestError("a match with no condition set") }
            self = decoded
        } catch let error as TapRequestError {
            throw error
        } catch {
            throw TapRequestError("a malformed match: \(error)")
        }
    }

    private static func label(_ bytes: ByteBuffer) throws -> (String, String) {
        var reader = ProtobufReader(bytes)
        var key = ""
        var value = ""
        while let (field, item) = try reader.next() {
            if field == 1 { key = try item.string } else if field == 2 { value = try item.string }
        }
        guard !key.isEmpty else { throw TapRequestError("a label match without a key") }
        return (key, value)
    }

    private static func tcp(_ bytes: ByteBuffer) throws -> TCP {
        var reader = ProtobufReader(bytes)
        var tcp: TCP?
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                var netmask = ProtobufReader(try value.bytes)
                var address: TapAddress?
                var bits = 0
                while let (inner, item) = try netmask.next() {
                    if inner == 1 { address = try Self.address(try item.bytes) } else if inner == 2 { bits = Int(try item.uint32) }
                }
                guard let address else { throw TapRequestError("a netmask without an address") }
                tcp = .netmask(address, bits: bits)
            case 3:
                var range = ProtobufReader(try value.bytes)
                var low = 0
                var high = 0
                while let (inner, item) = try range.next() {
                    if inner == 1 { low = Int(try item.uint32) } else if inner == 2 { high = Int(try item.uint32) }
                }
                // Linkerd's rule: a bound not given makes the range the other bound alone.
                if low == 0 { low = high }
                if high == 0 { high = low }
                guard low <= high, high <= 65535 else { throw TapRequestError("a port range \(low)–\(high) that is empty") }
                tcp = .ports(low...high)
            default: continue
            }
        }
        guard let tcp else { throw TapRequestError("a TCP match with neither netmask nor ports") }
        return tcp
    }

    /// `IPAddress { fixed32 ipv4 = 1; IPv6 ipv6 = 2 }`.
    static func address(_ bytes: ByteBuffer) throws -> TapAddress {
        var reader = ProtobufReader(bytes)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .fixed32(let bits)):
                return TapAddress(bytes: (0..<4).map { UInt8(truncatingIfNeeded: bits >> (24 - 8 * $0)) })!
            case (1, .varint(let bits)):
                return TapAddress(bytes: (0..<4).map { UInt8(truncatingIfNeeded: bits >> (24 - 8 * $0)) })!
            case (2, _):
                var halves = ProtobufReader(try value.bytes)
                var first: UInt64 = 0
                var last: UInt64 = 0
                while let (inner, item) = try halves.next() {
                    guard case .fixed64(let half) = item else { continue }
                    if inner == 1 { first = half } else if inner == 2 { last = half }
                }
                let bytes =
                    (0..<8).map { UInt8(truncatingIfNeeded: first >> (56 - 8 * $0)) }
                    + (0..<8).map { UInt8(truncatingIfNeeded: last >> (56 - 8 * $0)) }
                return TapAddress(bytes: bytes)!
            default: continue
            }
        }
        throw TapRequestError("an IP address with neither ipv4 nor ipv6")
    }

    private static func http(_ bytes: ByteBuffer) throws -> TapMatch {
        var reader = ProtobufReader(bytes)
        var match: TapMatch?
        while let (field, value) = try reader.next() {
            switch field {
            case 1: match = .scheme(try Self.registeredOrNot(try value.bytes, Self.registeredSchemes, what: "scheme"))
            case 2: match = .authority(try Self.text(try value.bytes))
            case 3: match = .method(try Self.registeredOrNot(try value.bytes, Self.registeredMethods, what: "method"))
            case 4: match = .path(try Self.text(try value.bytes))
            default: continue
            }
        }
        guard let match else { throw TapRequestError("an HTTP match with no condition set") }
        return match
    }

    /// `HttpMethod` or `Scheme`: `registered` (an enum, present even when 0) or `unregistered` text.
    private static func registeredOrNot(_ bytes: ByteBuffer, _ names: [String], what: String) throws -> String {
        var reader = ProtobufReader(bytes)
        var result: String?
        while let (field, value) = try reader.next() {
            if field == 1 {
                let index = Int(try value.uint64)
                guard index < names.count else { throw TapRequestError("an unknown registered \(what) \(index)") }
                result = names[index]
            } else if field == 2 {
                result = try value.string
            }
        }
        guard let result, !result.isEmpty else { throw TapRequestError("an empty \(what)") }
        return result
    }

    private static func text(_ bytes: ByteBuffer) throws -> Text {
        var reader = ProtobufReader(bytes)
        var text: Text?
        while let (field, value) = try reader.next() {
            if field == 1 { text = .exact(try value.string) } else if field == 2 { text = .prefix(try value.string) }
        }
        guard let text else { throw TapRequestError("a string match with neither exact nor prefix") }
        return text
    }
}
