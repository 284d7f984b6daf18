extension HTTPFields {
    /// Removes what describes the connection a message arrived on (RFC 9110 §7.6.1): `Connection` and the fields it
    /// names, `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade` and `TE` (except `TE: trailers`, which
    /// a gRPC server needs to see). The next hop's framing is decided afresh.
    ///
    /// Returns the protocol asked for by `Upgrade`, when `keepingUpgrade` (an HTTP/1 upgrade being forwarded): the
    /// caller puts `Connection: upgrade` and `Upgrade` back for the next hop.
    @discardableResult
    public mutating func removeConnectionFields(keepingUpgrade: Bool = false) -> String? {
        // Most messages carry none of these, or only `Connection: keep-alive`/`close`: one pass over the raw
        // fields, and no allocation, when so.
        if case .wire(var wire) = self.storage {
            var any = false
            var namesOthers = false
            var upgradeNamed = false
            var keepsTrailers = false
            wire.bytes.withUnsafeReadableBytes { raw in
                for range in wire.ranges {
                    let name = UnsafeRawBufferPointer(rebasing: raw[Int(range.nameStart)..<Int(range.nameStart + range.nameLength)])
                    guard HTTPFields.isConnectionScoped(name) else { continue }
                    any = true
                    let value = UnsafeRawBufferPointer(rebasing: raw[Int(range.valueStart)..<Int(range.valueStart + range.valueLength)])
                    if HTTPBytes.equal(name, "connection") {
                        HTTPBytes.forEachElement(value) { token in
                            if HTTPBytes.equal(token, "upgrade") {
                                upgradeNamed = true
                            } else if !HTTPBytes.equal(token, "close") && !HTTPBytes.equal(token, "keep-alive")
                                && !HTTPBytes.equal(token, "trailers")
                            {
                                namesOthers = true
                            }
                            return true
                        }
                    } else if HTTPBytes.equal(name, "te") {
                        HTTPBytes.forEachElement(value) { token in
                            if HTTPBytes.equal(token, "trailers") { keepsTrailers = true }
                            return !keepsTrailers
                        }
                    }
                }
            }
            guard any else { return nil }
            if !namesOthers {
                let upgrade = keepingUpgrade && upgradeNamed ? self.first("upgrade") : nil
                self.storage = .wire(WireFields())
                let bytes = wire.bytes
                wire.ranges.removeAll { range in WireFields.withName(bytes, range) { HTTPFields.isConnectionScoped($0) } }
                self.storage = .wire(wire)
                self.restoreAfterRemoval(keepsTrailers: keepsTrailers, upgrade: upgrade)
                return upgrade
            }
        }
        return self.removeConnectionFieldsNamingOthers(keepingUpgrade: keepingUpgrade)
    }

    /// The general case: `Connection` may name further fields, which go too.
    private mutating func removeConnectionFieldsNamingOthers(keepingUpgrade: Bool) -> String? {
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
        self.restoreAfterRemoval(keepsTrailers: keepsTrailers, upgrade: upgrade)
        return upgrade
    }

    private mutating func restoreAfterRemoval(keepsTrailers: Bool, upgrade: String?) {
        if keepsTrailers { self.add("te", "trailers") }
        if let upgrade {
            self.add("connection", "upgrade")
            self.add("upgrade", upgrade)
        }
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
        case 2: return HTTPBytes.equal(name, "te")
        case 7: return HTTPBytes.equal(name, "upgrade")
        case 10: return HTTPBytes.equal(name, "connection") || HTTPBytes.equal(name, "keep-alive")
        case 16: return HTTPBytes.equal(name, "proxy-connection")
        case 17: return HTTPBytes.equal(name, "transfer-encoding")
        default: return false
        }
    }
}
