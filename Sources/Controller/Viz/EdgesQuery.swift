/// The PromQL of `swiftlet viz edges`: which resources talked to which over the window, and whether over mTLS.
///
/// An edge is a source's outbound traffic to a destination, from the source proxy's series (`namespace`, the
/// source's owner label; `dst_namespace`, `dst_<owner>`; `tls`, `server_id`). ★ Unlike Linkerd's, which reads the
/// connections open at this instant (its issue #13929), an edge here is any traffic over the window (`increase …
/// > 0`): a client that calls once a minute is an edge. The client's identity comes from the destination's inbound
/// series (`client_id`), matched to the source by its service account (the controller's `controller_pod_info`).
public struct EdgesQuery: Sendable, Equatable {
    public var resource: StatResource
    /// nil: every namespace.
    public var namespace: String?
    public var window: Int

    public init(resource: StatResource, namespace: String?, window: Int) {
        self.resource = resource
        self.namespace = namespace
        self.window = window
    }

    var label: String { self.resource.label }
    var destinationLabel: String { self.resource.destinationLabel }

    /// Outbound traffic whose source (`side` "namespace") or destination (`side` "dst_namespace") is in the namespace.
    public func outbound(side: String) -> String {
        var matchers = ["direction=\"outbound\"", "\(self.label)!=\"\"", "\(self.destinationLabel)!=\"\""]
        if let namespace { matchers.append("\(side)=\"\(StatQuery.escaped(namespace))\"") }
        return "sum(increase(response_total{\(matchers.joined(separator: ", "))}[\(self.window)s])) by "
            + "(namespace, \(self.label), dst_namespace, \(self.destinationLabel), tls, server_id, no_tls_reason) > 0"
    }

    /// The identities that called each destination over mTLS.
    public var clients: String {
        "sum(increase(response_total{direction=\"inbound\", tls=\"true\", \(self.label)!=\"\"}[\(self.window)s])) by "
            + "(namespace, \(self.label), client_id) > 0"
    }

    /// Each resource's service accounts.
    public var serviceAccounts: String { "count(controller_pod_info{\(self.label)!=\"\"}) by (namespace, \(self.label), serviceaccount)" }
}
