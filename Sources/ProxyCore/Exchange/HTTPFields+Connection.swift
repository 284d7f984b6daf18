extension HTTPFields {
    /// Removes what describes the connection a message arrived on (RFC 9110 §7.6.1): `Connection` and the fields it
    /// names, `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade` and `TE` (except `TE: trailers`, which
    /// a gRPC server needs to see). The next hop's framing is decided afresh.
    ///
    /// Returns the protocol asked for by `Upgrade`, when `keepingUpgrade` (an HTTP/1 upgrade being forwarded): the
    /// caller puts `Connection: upgrade` and `Upgrade` back for the next hop.
    @discardableResult
    public mutating func removeConnectionFields(keepingUpgrade: Bool = false) -> String? {
        // Most messages carry none of these: one pass over the names, and nothing else, when so.
        var named: [String] = []
        var any = false
        var upgradeNamed = false
        var keepsTrailers = false
        self.forEachName { name in
            if HTTPFields.isConnectionScoped(name) { any = true }
        }
        guard any else { return nil }
        for value in self.values("connection") {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                let token = HTTPFields.trimmed(token)
                if HTTPFields.equalNames(token, "upgrade".utf8) { upgradeNamed = true }
                if !token.isEmpty, !HTTPFields.equalNames(token, "close".utf8), !HTTPFields.equalNames(token, "keep-alive".utf8),
                    !HTTPFields.equalNames(token, "trailers".utf8)
                {
                    named.append(String(decoding: token, as: UTF8.self))
                }
            }
        }
        if self.containsToken("trailers", in: "te") { keepsTrailers = true }
        let upgrade = keepingUpgrade && upgradeNamed ? self.first("upgrade") : nil
        self.removeAll { name in
            HTTPFields.isConnectionScoped(name) || named.contains { HTTPFields.equalNames(name, $0.utf8) }
        }
        if keepsTrailers { self.add("te", "trailers") }
        if let upgrade {
            self.add("connection", "upgrade")
            self.add("upgrade", upgrade)
        }
        return upgrade
    }

    /// Calls `body` with each regular field's name bytes.
    func forEachName(_ body: (UnsafeRawBufferPointer) -> Void) {
        switch self.storage {
        case .wire(let wire):
            for range in wire.ranges { wire.withName(range, body) }
        case .hpack(let headers):
            for field in headers where field.name.utf8.first != UInt8(ascii: ":") {
                var name = field.name
                name.withUTF8 { body(UnsafeRawBufferPointer($0)) }
            }
        }
    }

    /// Whether `name` always describes one connection, not the message, plus the old `Proxy-Connection`.
    static func isConnectionScoped(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: return HTTPFields.equalNames(name, "te".utf8)
        case 7: return HTTPFields.equalNames(name, "upgrade".utf8)
        case 10: return HTTPFields.equalNames(name, "connection".utf8) || HTTPFields.equalNames(name, "keep-alive".utf8)
        case 16: return HTTPFields.equalNames(name, "proxy-connection".utf8)
        case 17: return HTTPFields.equalNames(name, "transfer-encoding".utf8)
        default: return false
        }
    }
}
