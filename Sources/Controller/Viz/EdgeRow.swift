/// One edge of `viz edges`: a source resource that sent requests to a destination over the window.
public struct EdgeRow: Sendable, Equatable, Encodable, Comparable {
    public var source: String
    public var destination: String
    public var sourceNamespace: String
    public var destinationNamespace: String
    /// Every request of the edge went over mTLS.
    public var secured: Bool
    public var clientID: String
    public var serverID: String
    /// Why it is not secured (the proxy's `no_tls_reason`), when it is not.
    public var message: String

    public init(
        source: String, destination: String, sourceNamespace: String, destinationNamespace: String, secured: Bool, clientID: String = "",
        serverID: String = "", message: String = ""
    ) {
        self.source = source
        self.destination = destination
        self.sourceNamespace = sourceNamespace
        self.destinationNamespace = destinationNamespace
        self.secured = secured
        self.clientID = clientID
        self.serverID = serverID
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case source = "src", destination = "dst", sourceNamespace = "src_namespace", destinationNamespace = "dst_namespace"
        case secured, clientID = "client_id", serverID = "server_id", message = "no_tls_reason"
    }

    public static func < (lhs: EdgeRow, rhs: EdgeRow) -> Bool {
        (lhs.sourceNamespace, lhs.source, lhs.destinationNamespace, lhs.destination)
            < (rhs.sourceNamespace, rhs.source, rhs.destinationNamespace, rhs.destination)
    }
}
