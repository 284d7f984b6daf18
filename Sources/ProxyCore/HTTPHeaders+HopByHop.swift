import NIOHTTP1

extension HTTPHeaders {
    /// Removes the fields that describe the connection this message arrived on, so that the next hop's framing
    /// is decided afresh. Returns the protocol a request asks to upgrade to, which survives the removal when
    /// `keepingUpgrade` is set (a WebSocket handshake is forwarded with `Connection: upgrade`).
    ///
    /// `Transfer-Encoding` goes too: NIO's encoders frame the body again for the next hop (chunked where no
    /// `Content-Length` is known).
    @discardableResult
    public mutating func removeHopByHopFields(keepingUpgrade: Bool = false) -> String? {
        // Most messages carry none of these, or only `Connection: keep-alive`: one scan and no copy when none,
        // and otherwise one more pass that copies the survivors (cheaper than a removal pass per name).
        guard self.contains(where: { Self.isConnectionScoped($0.name) }) else { return nil }
        // Fields named by `Connection` are connection-scoped too (RFC 9110 §7.6.1).
        var named: [Substring] = []
        var upgradeRequested = false
        for (name, value) in self where name.caseInsensitiveEquals("connection") {
            for token in value.split(separator: ",") {
                let token = token.trimmingSpaces
                if token.caseInsensitiveEquals("upgrade") { upgradeRequested = true }
                if !token.isEmpty && !Self.isConnectionScoped(token) && !token.caseInsensitiveEquals("trailers") {
                    named.append(token)
                }
            }
        }
        var upgrade: String? = nil
        var keepsTrailers = false
        var kept = HTTPHeaders()
        kept.reserveCapacity(self.count)
        for (name, value) in self {
            if Self.isConnectionScoped(name) {
                if name.caseInsensitiveEquals("te") {
                    // `TE` may carry only `trailers` past a proxy: that is what gRPC relies on.
                    if value.split(separator: ",").contains(where: { $0.trimmingSpaces.caseInsensitiveEquals("trailers") }) {
                        keepsTrailers = true
                    }
                } else if keepingUpgrade, upgradeRequested, upgrade == nil, name.caseInsensitiveEquals("upgrade") {
                    upgrade = value
                }
                continue
            }
            if !named.isEmpty, named.contains(where: { name.caseInsensitiveEquals($0) }) { continue }
            kept.add(name: name, value: value)
        }
        if keepsTrailers { kept.add(name: "te", value: "trailers") }
        if let upgrade {
            kept.add(name: "connection", value: "upgrade")
            kept.add(name: "upgrade", value: upgrade)
        }
        self = kept
        return upgrade
    }

    /// Whether `name` always describes one connection, not the message (RFC 9110 §7.6.1), plus the old
    /// `Proxy-Connection`. `TE` is among them, though `TE: trailers` must still reach a gRPC server.
    static func isConnectionScoped<Name: StringProtocol>(_ name: Name) -> Bool {
        switch name.utf8.count {
        case 2: return name.caseInsensitiveEquals("te")
        case 7: return name.caseInsensitiveEquals("upgrade")
        case 10: return name.caseInsensitiveEquals("connection") || name.caseInsensitiveEquals("keep-alive")
        case 16: return name.caseInsensitiveEquals("proxy-connection")
        case 17: return name.caseInsensitiveEquals("transfer-encoding")
        default: return false
        }
    }
}

extension StringProtocol {
    /// ASCII case-insensitive comparison, without allocating.
    func caseInsensitiveEquals<Other: StringProtocol>(_ other: Other) -> Bool {
        guard self.utf8.count == other.utf8.count else { return false }
        for (a, b) in zip(self.utf8, other.utf8) {
            let foldedA = (a >= 65 && a <= 90) ? a | 0x20 : a
            let foldedB = (b >= 65 && b <= 90) ? b | 0x20 : b
            if foldedA != foldedB { return false }
        }
        return true
    }

    /// Without the optional whitespace (spaces and tabs) around a list element.
    var trimmingSpaces: SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = self.firstIndex(where: { !isSpace($0) }) else { return self[self.endIndex...] }
        let last = self.lastIndex(where: { !isSpace($0) })!
        return self[first...last]
    }
}
