import ProxyCore

/// Where one attempt of an exchange goes.
public struct ChosenEndpoint {
    public var target: TrafficTarget
    /// Discovery's `dst_*` labels of the endpoint.
    public var labels: [MetricLabel]
    /// The balancer's view of the endpoint, told the outcome.
    public var load: EndpointLoad?
}
