/// All metric series of one event loop.
///
/// Each loop owns a shard and only that loop touches it, so updates are plain increments. Handlers look a
/// series up once per connection or target (the dictionary here) and keep the reference.
public final class MetricsShard {
    /// Series beyond this many get their authority folded into `"_overflow"`: authorities come from clients,
    /// and an unbounded label set would let one client exhaust memory.
    public static let maximumRequestSeries = 10_000

    var requestSeries: [RequestLabels: RequestMetrics] = [:]
    var tcpSeries: [TCPLabels: TCPMetrics] = [:]
    /// The route families' series: per route, and per route and backend.
    var routeSeries: [RouteLabels: RouteSeries] = [:]
    var backendSeries: [RouteBackendKey: RouteSeries] = [:]
    var inboundRouteSeries: [InboundRouteLabels: RouteSeries] = [:]
    /// The balancers whose endpoints the `outbound_http_balancer_endpoints` gauge counts, by rendered labels.
    var balancers: [String: WeakBalancer] = [:]

    struct RouteBackendKey: Hashable {
        var route: RouteLabels
        var backend: BackendLabels
    }

    struct WeakBalancer {
        weak var source: (any BalancerGaugeSource)?
    }
    /// `[direction][code]`: errors answered at the HTTP edge.
    var httpErrors = [[UInt64]](repeating: [UInt64](repeating: 0, count: ProxyError.Code.all.count), count: 2)
    /// `[direction][code]`: connections refused or failed below HTTP.
    var tcpErrors = [[UInt64]](repeating: [UInt64](repeating: 0, count: ProxyError.Code.all.count), count: 2)

    public init() {}

    public func requestMetrics(for labels: RequestLabels) -> RequestMetrics {
        if let existing = self.requestSeries[labels] { return existing }
        var labels = labels
        if self.requestSeries.count >= Self.maximumRequestSeries {
            labels.authority = "_overflow"
            if let existing = self.requestSeries[labels] { return existing }
        }
        let created = RequestMetrics(labels: labels)
        self.requestSeries[labels] = created
        return created
    }

    /// The series of a route (or a parent's default route). Routes come from the controller, not from clients, so
    /// the set is bounded by the mesh's configuration.
    public func routeSeries(for labels: RouteLabels) -> RouteSeries {
        if let existing = self.routeSeries[labels] { return existing }
        let created = RouteSeries(rendered: labels.rendered, family: labels.family)
        self.routeSeries[labels] = created
        return created
    }

    /// The series of an inbound server's route. Servers are the workload's ports and routes come from policy: the
    /// set is bounded by the workload's configuration, not by its clients.
    public func inboundRouteSeries(for labels: InboundRouteLabels) -> RouteSeries {
        if let existing = self.inboundRouteSeries[labels] { return existing }
        let created = RouteSeries(rendered: labels.rendered, family: labels.family)
        self.inboundRouteSeries[labels] = created
        return created
    }

    public func backendSeries(for route: RouteLabels, backend: BackendLabels) -> RouteSeries {
        let key = RouteBackendKey(route: route, backend: backend)
        if let existing = self.backendSeries[key] { return existing }
        let created = RouteSeries(rendered: route.rendered + "," + backend.rendered, family: route.family)
        self.backendSeries[key] = created
        return created
    }

    /// Counts `source`'s endpoints in the balancer gauge while it lives.
    public func registerBalancer(_ source: any BalancerGaugeSource, parent: RouteLabels, backend: BackendLabels) {
        self.balancers[parent.renderedParent + "," + backend.rendered] = WeakBalancer(source: source)
    }

    public func tcpMetrics(for labels: TCPLabels) -> TCPMetrics {
        if let existing = self.tcpSeries[labels] { return existing }
        let created = TCPMetrics(labels: labels)
        self.tcpSeries[labels] = created
        return created
    }

    /// The series of connections accepted for `target`. The last one asked for is kept by value: accepted
    /// connections mostly go to the same target, and the text label and hash lookup showed in profiles of
    /// connection-per-request traffic.
    public func acceptedTCPMetrics(direction: TrafficDirection, target: HostPort?, tls: TLSLabel) -> TCPMetrics {
        if let last = self.lastAccepted, last.direction == direction, last.target == target, last.tls == tls {
            return last.metrics
        }
        let metrics = self.tcpMetrics(
            for: TCPLabels(direction: direction, peer: .src, targetAddress: target?.description ?? "", tls: tls)
        )
        self.lastAccepted = (direction, target, tls, metrics)
        return metrics
    }

    private var lastAccepted: (direction: TrafficDirection, target: HostPort?, tls: TLSLabel, metrics: TCPMetrics)?

    public func recordHTTPError(_ direction: TrafficDirection, _ code: ProxyError.Code) {
        self.httpErrors[direction.rawValue][code.index] &+= 1
    }

    public func recordTCPError(_ direction: TrafficDirection, _ code: ProxyError.Code) {
        self.tcpErrors[direction.rawValue][code.index] &+= 1
    }

    /// A copy of every series, taken on the owning loop and safe to send to the admin server.
    public func snapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        for series in self.requestSeries.values {
            snapshot.requests[series.rendered, default: .init()].add(series)
        }
        for series in self.tcpSeries.values {
            snapshot.tcp[series.rendered, default: .init()].add(series)
        }
        for series in self.routeSeries.values { snapshot.routes[series.rendered, default: .init(family: series.family)].add(series) }
        for series in self.backendSeries.values { snapshot.backends[series.rendered, default: .init(family: series.family)].add(series) }
        for series in self.inboundRouteSeries.values {
            snapshot.inboundRoutes[series.rendered, default: .init(family: series.family)].add(series)
        }
        for (labels, balancer) in self.balancers {
            guard let source = balancer.source else {
                self.balancers[labels] = nil
                continue
            }
            snapshot.balancers[labels] = source.endpointStates
        }
        snapshot.httpErrors = self.httpErrors
        snapshot.tcpErrors = self.tcpErrors
        return snapshot
    }
}

@available(*, unavailable)
extension MetricsShard: Sendable {}
