/// What the mesh reads of an EndpointSlice: on Kubernetes the endpoints controller has already chosen a Service's
/// pods and judged their readiness, so the index takes its answer instead of matching selectors itself.
public struct EndpointSliceSpec: Hashable, Sendable {
    public struct Port: Hashable, Sendable {
        /// The Service port's name this slice port serves (nil for an unnamed port).
        public var name: String?
        /// The port on the endpoints (the target port).
        public var port: Int
        public var appProtocol: String?

        public init(name: String?, port: Int, appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.appProtocol = appProtocol
        }
    }

    public struct Endpoint: Hashable, Sendable {
        public var address: String
        /// Ready for traffic: not terminating and passing its readiness probe.
        public var ready: Bool
        /// The Pod behind the address (its identity and labels come from it), when the slice names one.
        public var pod: String?

        public init(address: String, ready: Bool, pod: String?) {
            self.address = address
            self.ready = ready
            self.pod = pod
        }
    }

    public var key: ObjectKey
    public var service: ObjectKey
    public var ports: [Port]
    public var endpoints: [Endpoint]

    public init(key: ObjectKey, service: ObjectKey, ports: [Port], endpoints: [Endpoint]) {
        self.key = key
        self.service = service
        self.ports = ports
        self.endpoints = endpoints
    }
}
