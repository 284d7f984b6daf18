/// One server route of `viz stat-inbound`: figures nil where there was no traffic.
public struct InboundStatRow: Sendable, Equatable, Encodable {
    /// The server as Linkerd names it: `[default]:8080` for a port under the default policy, else `NAME:PORT`.
    public var server: String
    /// The route's name, or `[default]` for the server's default route.
    public var route: String
    /// `HTTPRoute`, `GRPCRoute`, or empty for a default route.
    public var type: String
    public var figures: RouteStatRow.Figures

    public init(server: String, route: String, type: String, figures: RouteStatRow.Figures) {
        self.server = server
        self.route = route
        self.type = type
        self.figures = figures
    }

    enum CodingKeys: String, CodingKey { case server, route, type, figures }
}
