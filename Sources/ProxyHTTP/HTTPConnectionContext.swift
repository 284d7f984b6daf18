import Logging
import NIOCore
import ProxyCore

/// What an HTTP forwarding handler knows about its downstream connection, fixed when the connection is accepted.
public struct HTTPConnectionContext {
    public var direction: TrafficDirection
    /// The connection's destination if known before reading (transparent mode, explicit inbound).
    public var destination: HostPort?
    public var router: Router
    public var resources: LoopResources
    public var tls: TLSLabel
    public var responseTimeout: TimeAmount?
    /// The downstream is an HTTP/2 stream: upstream requests go over HTTP/2 too (gRPC needs it end to end).
    public var isHTTP2: Bool
    public var logger: Logger
    /// How long a request waits for discovery's first answer about its authority.
    public var discoveryTimeout: TimeAmount = .seconds(3)

    public init(
        direction: TrafficDirection, destination: HostPort?, router: Router, resources: LoopResources, tls: TLSLabel,
        responseTimeout: TimeAmount?, isHTTP2: Bool, logger: Logger = Logger(label: "swiftlet-proxy")
    ) {
        self.logger = logger
        self.direction = direction
        self.destination = destination
        self.router = router
        self.resources = resources
        self.tls = tls
        self.responseTimeout = responseTimeout
        self.isHTTP2 = isHTTP2
    }
}
