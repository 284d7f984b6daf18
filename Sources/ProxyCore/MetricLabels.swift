/// Label sets of the proxy's metric families, rendered to Prometheus text once when a series is created.

/// `direction`, `authority`, `target_addr`, `tls`: the labels of `request_total` and `response_*`.
public struct RequestLabels: Hashable, Sendable {
    public var direction: TrafficDirection
    public var authority: String
    public var targetAddress: String
    public var tls: TLSLabel
    /// Discovery's labels of the endpoint (`dst_service`, `dst_namespace`, `dst_pod`, …), sorted.
    public var destinationLabels: [MetricLabel]

    public init(direction: TrafficDirection, authority: String, targetAddress: String, tls: TLSLabel, destinationLabels: [MetricLabel] = [])
    {
        self.direction = direction
        self.authority = authority
        self.targetAddress = targetAddress
        self.tls = tls
        self.destinationLabels = destinationLabels
    }

    var rendered: String {
        var text =
            "direction=\"\(direction.label)\",authority=\"\(escape(authority))\",target_addr=\"\(escape(targetAddress))\",\(tls.rendered)"
        for label in self.destinationLabels { text += ",\(label.name)=\"\(escape(label.value))\"" }
        return text
    }
}

/// `direction`, `peer`, `target_addr`, `tls`: the labels of the `tcp_*` families.
public struct TCPLabels: Hashable, Sendable {
    public enum Peer: String, Sendable { case src, dst }

    public var direction: TrafficDirection
    public var peer: Peer
    public var targetAddress: String
    public var tls: TLSLabel

    public init(direction: TrafficDirection, peer: Peer, targetAddress: String, tls: TLSLabel) {
        self.direction = direction
        self.peer = peer
        self.targetAddress = targetAddress
        self.tls = tls
    }

    var rendered: String {
        "direction=\"\(direction.label)\",peer=\"\(peer.rawValue)\",target_addr=\"\(escape(targetAddress))\",\(tls.rendered)"
    }
}

/// Linkerd's `tls` label: `true` with the peer's identity, or `no_identity` with the reason.
public enum TLSLabel: Hashable, Sendable {
    case established(clientID: String?, serverID: String?)
    case noIdentity(reason: String)

    /// Plaintext because nothing gave this destination an identity (explicit mode before discovery).
    public static let notProvidedByDiscovery = TLSLabel.noIdentity(reason: "not_provided_by_service_discovery")
    /// Plaintext because the client did not speak TLS to us.
    public static let noTLSFromRemote = TLSLabel.noIdentity(reason: "no_tls_from_remote")
    /// TLS passed through without termination (another identity, or not ours to terminate).
    public static let passthrough = TLSLabel.noIdentity(reason: "passthru")

    var rendered: String {
        switch self {
        case .established(let client, let server):
            var text = "tls=\"true\""
            if let client { text += ",client_id=\"\(escape(client))\"" }
            if let server { text += ",server_id=\"\(escape(server))\"" }
            return text
        case .noIdentity(let reason):
            return "tls=\"no_identity\",no_tls_reason=\"\(escape(reason))\""
        }
    }
}

/// Escapes a Prometheus label value (text format 0.0.4): backslash, double quote and newline.
func escape(_ value: String) -> String {
    guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
    else { return value }
    var out = ""
    for character in value {
        switch character {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        default: out.append(character)
        }
    }
    return out
}
