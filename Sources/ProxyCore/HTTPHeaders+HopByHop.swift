import NIOHTTP1

extension HTTPHeaders {
    /// Header fields that describe one connection, not the message (RFC 9110 §7.6.1), plus the old
    /// `Proxy-Connection`. `TE` is handled apart because `TE: trailers` must reach a gRPC server.
    static let hopByHopNames: [String] = [
        "connection", "keep-alive", "proxy-connection", "upgrade", "transfer-encoding",
    ]

    /// Removes the fields that describe the connection this message arrived on, so that the next hop's framing
    /// is decided afresh. Returns the protocol a request asks to upgrade to, which survives the removal when
    /// `keepingUpgrade` is set (a WebSocket handshake is forwarded with `Connection: upgrade`).
    ///
    /// `Transfer-Encoding` goes too: NIO's encoders frame the body again for the next hop (chunked where no
    /// `Content-Length` is known).
    @discardableResult
    public mutating func removeHopByHopFields(keepingUpgrade: Bool = false) -> String? {
        // Most messages carry none of these: one scan, and no copy of the headers, in that case.
        guard self.contains(where: { Self.isConnectionScoped($0.name) }) else { return nil }
        var upgrade: String? = nil
        var connectionTokens: [Substring] = []
        for value in self[canonicalForm: "connection"] {
            for token in value.split(separator: ",") {
                connectionTokens.append(token.drop { $0 == " " || $0 == "\t" })
            }
        }
        let upgradeRequested = connectionTokens.contains { $0.lowercased() == "upgrade" }
        if keepingUpgrade, upgradeRequested, let value = self.first(name: "upgrade") {
            upgrade = value
        }
        for token in connectionTokens {
            let name = token.lowercased()
            if name == "te" || name == "trailers" { continue }
            self.remove(name: name)
        }
        for name in Self.hopByHopNames { self.remove(name: name) }
        // `TE` may carry only `trailers` past a proxy: that is what gRPC relies on.
        if self.contains(name: "te") {
            let keepsTrailers = self[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
            self.remove(name: "te")
            if keepsTrailers { self.add(name: "te", value: "trailers") }
        }
        if let upgrade {
            self.add(name: "connection", value: "upgrade")
            self.add(name: "upgrade", value: upgrade)
        }
        return upgrade
    }

    /// Whether `name` is a field that can make a message need rewriting at a hop.
    static func isConnectionScoped(_ name: String) -> Bool {
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

extension String {
    /// ASCII case-insensitive comparison with a lowercase literal, without allocating.
    func caseInsensitiveEquals(_ lowercase: String) -> Bool {
        guard self.utf8.count == lowercase.utf8.count else { return false }
        for (a, b) in zip(self.utf8, lowercase.utf8) {
            let folded = (a >= 65 && a <= 90) ? a | 0x20 : a
            if folded != b { return false }
        }
        return true
    }
}
