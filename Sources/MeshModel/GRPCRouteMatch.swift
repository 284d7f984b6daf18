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

    /// The Gateway API's precedence among GRPCRoute matches: the most characters in a matching service, then in a
    /// matching method, then the most header matches.
    package var specificity: [Int] {
        [self.service?.length ?? 0, self.method?.length ?? 0, self.headers.count]
    }
}
