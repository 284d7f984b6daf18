import MeshModel

/// How the route model's matches test a request: the proxy's side of the model (`MeshModel` has no HTTP types).
extension GRPCRouteMatch {
    /// A gRPC call's path is `/package.Service/Method`; anything else matches only a match without a method.
    public func matches(_ request: RouteRequest) -> Bool {
        if self.service != nil || self.method != nil {
            guard request.method == "POST" else { return false }
            let parts = request.path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty, !parts[2].contains("/") else { return false }
            if let service = self.service, !service.matches(parts[1]) { return false }
            if let method = self.method, !method.matches(parts[2]) { return false }
        }
        for header in self.headers where !header.matches(request.fields) { return false }
        return true
    }
}

extension HTTPRouteMatch {
    public func matches(_ request: RouteRequest) -> Bool {
        if let method = self.method, method != request.method { return false }
        guard self.path.matches(request.path) else { return false }
        for header in self.headers where !header.matches(request.fields) { return false }
        for param in self.queryParams where !param.matches(request) { return false }
        return true
    }
}

extension RouteHeaderMatch {
    public func matches(_ fields: HTTPFields) -> Bool {
        let values = fields.values(self.name)
        if values.isEmpty { return false }
        if values.contains(where: { self.value.matches($0[...]) }) { return true }
        return values.count > 1 && self.value.matches(values.joined(separator: ",")[...])
    }
}

extension RouteQueryMatch {
    public func matches(_ request: RouteRequest) -> Bool {
        guard let value = request.queryValue(self.name) else { return false }
        return self.value.matches(value)
    }
}

extension RouteRule {
    func matches(_ index: Int, _ request: RouteRequest) -> Bool {
        switch self.matches {
        case .http(let list): list[index].matches(request)
        case .grpc(let list): list[index].matches(request)
        }
    }
}
