import MeshModel

/// What the Gateway API's filters do to a request or a response, as pure functions of the head (the stages that
/// apply them only call these).
extension RouteFilter.HeaderModifier {
    /// `remove` first, then `set` (replacing every field of that name), then `add` (one more field line, which HTTP
    /// reads as the value appended to the list — RFC 9110 §5.3 — what the Gateway API asks of `add`).
    public func apply(to fields: inout HTTPFields) {
        for name in self.remove { fields.remove(name) }
        for pair in self.set { fields.replaceOrAdd(pair.name, pair.value) }
        for pair in self.add { fields.add(pair.name, pair.value) }
    }
}

extension RouteFilter.PathModifier {
    /// The new path (without its query) for `path`. `ReplacePrefixMatch` swaps the part the rule's `PathPrefix`
    /// matched (`matchedPrefix`, stored without a trailing `/`) and keeps the rest: `/foo` → `/xyz` takes `/foo/bar`
    /// to `/xyz/bar` and `/foo` to `/xyz`; a replacement of `/` takes `/foo/bar` to `/bar`. Without a prefix match
    /// (the Gateway API allows this filter only with one) the path is left as it is.
    public func apply(to path: Substring, matchedPrefix: String?) -> String {
        switch self {
        case .replaceFullPath(let full):
            return full
        case .replacePrefixMatch(let replacement):
            guard let prefix = matchedPrefix, path.hasPrefix(prefix) else { return String(path) }
            var head = Substring(replacement)
            while head.hasSuffix("/") { head = head.dropLast() }
            let result = String(head) + path.dropFirst(prefix.utf8.count)
            return result.isEmpty ? "/" : result
        }
    }
}

extension RouteFilter.Redirect {
    /// The `Location` of the redirect for a request to `scheme://host:port` + `target` (origin form, query
    /// included). Unset parts keep the request's; a new scheme without a port takes its well-known port; the port is
    /// left out when it is the scheme's default (Gateway API).
    public func location(scheme requestScheme: String, host: String, port: Int, target: String, matchedPrefix: String?) -> String {
        let scheme = self.scheme ?? requestScheme
        let port = self.port ?? (self.scheme.flatMap(Self.wellKnownPort) ?? port)
        var path = Substring(target)
        var query: Substring = ""
        if let question = target.firstIndex(of: "?") {
            path = target[..<question]
            query = target[question...]
        }
        let newPath = self.path.map { $0.apply(to: path, matchedPrefix: matchedPrefix) } ?? String(path)
        let hostname = self.hostname ?? host
        let hostPart = hostname.contains(":") && !hostname.hasPrefix("[") ? "[\(hostname)]" : hostname
        let portPart = Self.wellKnownPort(scheme) == port ? "" : ":\(port)"
        return "\(scheme)://\(hostPart)\(portPart)\(newPath)\(query)"
    }

    static func wellKnownPort(_ scheme: String) -> Int? {
        switch scheme {
        case "http": 80
        case "https": 443
        default: nil
        }
    }
}

extension RouteFilter.Rewrite {
    /// Rewrites the request's authority (`hostname` replaces the whole `Host`/`:authority`) and path, keeping the
    /// query.
    public func apply(to head: inout HTTPRequestHead, matchedPrefix: String?) {
        if let hostname = self.hostname {
            head.authority = hostname
            if head.fields.contains("host") { head.fields.replaceOrAdd("host", hostname) }
        }
        if let modifier = self.path {
            let target = head.path
            if let question = target.firstIndex(of: "?") {
                head.path = modifier.apply(to: target[..<question], matchedPrefix: matchedPrefix) + target[question...]
            } else {
                head.path = modifier.apply(to: target[...], matchedPrefix: matchedPrefix)
            }
        }
    }
}
