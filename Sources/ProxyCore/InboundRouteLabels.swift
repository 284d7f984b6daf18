/// The labels of Linkerd 2.17's inbound route families (`inbound_{http,grpc}_route_*`): the server (a port of the
/// workload, under the policy that governs it) and the route on it.
///
/// Until inbound policy exists every port is its own default server, named by the default policy
/// (`srv_kind="default"`, `srv_name="all-unauthenticated"`, Linkerd's names), with one default route — what
/// `linkerd viz stat-inbound` shows as `[default]:PORT` and `[default]`.
public struct InboundRouteLabels: Hashable, Sendable {
    public var family: RouteLabels.Family
    public var serverKind: String
    public var serverName: String
    public var port: Int
    /// `nil`: the server's default route.
    public var route: RouteLabels.RouteName?

    public init(
        family: RouteLabels.Family, port: Int, serverKind: String = "default", serverName: String = "all-unauthenticated",
        route: RouteLabels.RouteName? = nil
    ) {
        self.family = family
        self.serverKind = serverKind
        self.serverName = serverName
        self.port = port
        self.route = route
    }

    var rendered: String {
        let group = self.serverKind == "default" ? "" : "policy.swiftlet.io"
        return "srv_group=\"\(group)\",srv_kind=\"\(escape(serverKind))\",srv_name=\"\(escape(serverName))\",srv_port=\"\(port)\","
            + RouteLabels.rendered(self.route, defaultName: "default")
    }
}
