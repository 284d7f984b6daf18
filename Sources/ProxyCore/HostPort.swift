/// A `host:port` pair as written by a user or carried in an HTTP authority.
///
/// Kept as text (not a resolved address) because explicit mode resolves names per destination, and the
/// listeners bind the literal host given.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`, or (with `defaultPort`) a bare host. Port 0 is accepted: a listener
    /// bound to it gets an ephemeral port; destinations reject it.
    public init?(parsing text: Substring, defaultPort: Int? = nil) {
        guard !text.isEmpty else { return nil }
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard !host.isEmpty else { return nil }
            if rest.isEmpty {
                guard let defaultPort else { return nil }
                self.init(host: String(host), port: defaultPort)
                return
            }
            guard rest.first == ":", let port = HostPort.port(rest.dropFirst()) else { return nil }
            self.init(host: String(host), port: port)
            return
        }
        if let colon = text.lastIndex(of: ":") {
            let host = text[..<colon]
            guard !host.isEmpty, !host.contains(":"), let port = HostPort.port(text[text.index(after: colon)...]) else {
                return nil
            }
            self.init(host: String(host), port: port)
        } else {
            guard let defaultPort else { return nil }
            self.init(host: String(text), port: defaultPort)
        }
    }

    public init?(parsing text: String, defaultPort: Int? = nil) {
        self.init(parsing: Substring(text), defaultPort: defaultPort)
    }

    private static func port(_ digits: Substring) -> Int? {
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(digits), value >= 0, value <= 65535
        else { return nil }
        return value
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
