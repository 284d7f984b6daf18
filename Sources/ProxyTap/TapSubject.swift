import ProxyCore

/// What a tap's match sees of one request (or opaque connection): Linkerd's match language is evaluated against it.
/// Built only when some tap is open, so plain traffic never pays for it.
public struct TapSubject: Sendable {
    public var direction: TrafficDirection
    /// The client's address; `nil` when unknown.
    public var source: HostPort?
    /// Where the request goes: outbound the endpoint, inbound the application's port.
    public var destination: HostPort?
    /// Discovery's labels of the destination, `dst_`-prefixed as the metrics have them.
    public var destinationLabels: [MetricLabel]
    /// The route's labels (`route_kind`, `route_name`, … `backend_name`).
    public var routeLabels: [MetricLabel]
    /// `nil` for an opaque TCP connection.
    public var http: HTTP?

    public struct HTTP: Sendable {
        public var scheme: String
        public var method: String
        public var authority: String
        public var path: String

        public init(scheme: String, method: String, authority: String, path: String) {
            self.scheme = scheme
            self.method = method
            self.authority = authority
            self.path = path
        }
    }

    public init(
        direction: TrafficDirection, source: HostPort?, destination: HostPort?, destinationLabels: [MetricLabel] = [],
        routeLabels: [MetricLabel] = [], http: HTTP?
    ) {
        self.direction = direction
        self.source = source
        self.destination = destination
        self.destinationLabels = destinationLabels
        self.routeLabels = routeLabels
        self.http = http
    }

    /// A destination label by Linkerd's key (`deployment`), which the metrics spell `dst_deployment`.
    func destinationLabel(_ key: String) -> String? {
        for label in self.destinationLabels {
            let name = label.name.hasPrefix("dst_") ? label.name.dropFirst(4) : Substring(label.name)
            if name == key { return label.value }
        }
        return nil
    }
}
