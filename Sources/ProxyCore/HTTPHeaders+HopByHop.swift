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
}
