import NIOHPACK

extension HTTPFields {
    /// The `HEADERS` block of a response: the fields as they arrived when they came from HTTP/2 with this status
    /// (nothing to convert or copy), otherwise built with `:status` first.
    public func hpackResponse(status: Int) -> HPACKHeaders {
        if case .hpack(let headers) = self.storage, let first = headers.first, first.name == ":status", first.value == String(status) {
            return headers
        }
        return self.hpack(pseudo: [(":status", String(status))], droppingHost: false)
    }

    /// The `HEADERS` block of a request: the fields as they arrived when they came from HTTP/2 and the pseudo-fields
    /// still say the same, otherwise built with the pseudo-fields first and without `Host` (`:authority` says it).
    public func hpackRequest(method: String, scheme: String, authority: String?, path: String) -> HPACKHeaders {
        if case .hpack(let headers) = self.storage, Self.pseudoFieldsMatch(headers, method, scheme, authority, path) {
            return headers
        }
        var pseudo = [(":method", method), (":scheme", scheme), (":path", path)]
        if let authority { pseudo.insert((":authority", authority), at: 2) }
        return self.hpack(pseudo: pseudo, droppingHost: true)
    }

    static func pseudoFieldsMatch(_ headers: HPACKHeaders, _ method: String, _ scheme: String, _ authority: String?, _ path: String) -> Bool
    {
        var seen = 0
        for field in headers {
            guard field.name.utf8.first == UInt8(ascii: ":") else { break }
            switch field.name {
            case ":method": guard field.value == method else { return false }
            case ":scheme": guard field.value == scheme else { return false }
            case ":authority": guard field.value == authority else { return false }
            case ":path": guard field.value == path else { return false }
            default: return false
            }
            seen += 1
        }
        return seen == (authority == nil ? 3 : 4)
    }
}
