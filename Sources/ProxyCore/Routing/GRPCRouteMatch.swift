/// One entry of a GRPCRoute rule's `matches`: a method (service and/or method name, `Exact` or
/// `RegularExpression`) and headers; every condition given must hold.
public struct GRPCRouteMatch: Hashable, Sendable {
    public var service: RouteValueMatch?
    public var method: RouteValueMatch?
    public var headers: [RouteHeaderMatch]

    public init(service: RouteValueMatch? = nil, method: RouteValueMatch? = nil, headers: [RouteHeaderMatch] = []) {
        self.service = service
        self.method = method
        var seen: Set<String> = []
        self.headers = headers.filter { seen.insert($0.name).inserted }
    }

    public static let everything = GRPCRouteMatch()

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

    /// The Gateway API's precedence among GRPCRoute matches: the most characters in a matching service, then in a
    /// matching method, then the most header matches.
    var specificity: [Int] {
        [self.service?.length ?? 0, self.method?.length ?? 0, self.headers.count]
    }
}
