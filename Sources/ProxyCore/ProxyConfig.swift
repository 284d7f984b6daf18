/// Everything the proxy is configured with, parsed once from the environment at start-up.
///
/// A plain `Sendable` value: handlers read it freely from any event loop, and tests build one directly.
public struct ProxyConfig: Sendable {
    public var inboundListen = HostPort(host: "0.0.0.0", port: 4143)
    public var outboundListen = HostPort(host: "127.0.0.1", port: 4140)
    public var adminListen = HostPort(host: "0.0.0.0", port: 4191)
    /// The tap server (gRPC `Observe`); `nil`: tap is off.
    public var tapListen: HostPort? = HostPort(host: "0.0.0.0", port: 4190)
    /// The tap service's identity: the one client besides loopback that may tap.
    public var tapServiceName = ""
    /// Header names whose values tap never sends.
    public var tapRedactedHeaders: Set<String> = ["authorization", "cookie", "set-cookie", "proxy-authorization"]
    public var mode: ProxyMode = .explicit
    /// Where inbound traffic goes in explicit mode: the local application.
    public var inboundForward = HostPort(host: "127.0.0.1", port: 8080)
    /// Explicit mode's stand-in for discovery: authority (`host:port`) to endpoint addresses.
    public var staticDestinations: [HostPort: [HostPort]] = [:]
    /// Ports whose traffic is never inspected: server-speaks-first and binary protocols.
    /// The controller's Destination API; `nil` turns discovery off.
    public var destinationController: HostPort? = nil
    public var namespace = "default"
    public var workload = ""
    /// The cluster's DNS domain: a route's backend Service is asked about as `name.namespace.svc.<domain>:port`.
    public var clusterDomain = "cluster.local"
    public var destinationIdleTimeout: Duration = .seconds(60)
    /// The Destination API's certificate name (mTLS when the proxy has an identity); `nil` derives it.
    public var destinationServerName: String? = nil
    /// The controller's Identity API; `nil` turns identity (and mTLS) off.
    public var identityController: HostPort? = nil
    public var identityLocalName = ""
    public var identityTrustAnchorsPEM = ""
    public var identityTokenFile = "/var/run/secrets/tokens/swiftlet-identity-token"
    /// The identity service's certificate name; `nil` derives it from the local name.
    public var identityServerName: String? = nil
    public var opaquePorts: Set<Int> = [25, 587, 3306, 4444, 5432, 6379, 9300, 11211]
    public var detectTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(3)
    /// Time allowed from the request head being sent to the response head arriving; `nil` waits forever.
    public var responseTimeout: Duration? = nil
    /// Time allowed for an HTTP/1 request head, from its first byte to its empty line.
    public var headerReadTimeout: Duration = .seconds(10)
    public var upstreamIdleTimeout: Duration = .seconds(60)
    public var maxIdleConnectionsPerEndpoint = 128
    public var shutdownGracePeriod: Duration = .seconds(30)
    public var workerThreads = 0
    public var logLevel = "info"

    public init() {}
}
