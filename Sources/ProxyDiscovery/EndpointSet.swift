import ProxyCore

/// The endpoints of one stream, built up from its updates.
public struct EndpointSet {
    private var endpoints: [HostPort: DiscoveredEndpoint] = [:]
    private var exists = true

    var state: DestinationState {
        if self.endpoints.isEmpty { return .noEndpoints(exists: self.exists) }
        return .endpoints(self.endpoints.values.sorted { ($0.address.host, $0.address.port) < ($1.address.host, $1.address.port) })
    }

    mutating func apply(_ update: DestinationUpdate) {
        switch update {
        case .add(let endpoints, let labels):
            self.exists = true
            let shared = labels.map { MetricLabel(Self.labelName($0.name), $0.value) }
            for endpoint in endpoints {
                let merged = (shared + endpoint.labels.map { MetricLabel(Self.labelName($0.name), $0.value) }).sorted()
                self.endpoints[endpoint.address] = DiscoveredEndpoint(
                    address: endpoint.address, weight: endpoint.weight == 0 ? 10_000 : Int(endpoint.weight),
                    identity: endpoint.identity.isEmpty ? nil : endpoint.identity,
                    protocolHint: Self.hint(endpoint.protocolHint), labels: merged
                )
            }
        case .remove(let addresses):
            for address in addresses { self.endpoints[address] = nil }
        case .noEndpoints(let exists):
            self.endpoints = [:]
            self.exists = exists
        }
    }

    /// `ProtocolHint`: 1 is HTTP/2, 2 opaque; anything else (0, or a value from a newer controller) is unknown.
    static func hint(_ hint: UInt64) -> DiscoveredEndpoint.ProtocolHint {
        switch hint {
        case 1: return .http2
        case 2: return .opaque
        default: return .unknown
        }
    }

    /// A Prometheus label name: letters, digits and `_` only (the controller's labels are ours, but a proxy
    /// never trusts what it renders).
    static func labelName(_ name: String) -> String {
        var result = ""
        for scalar in name.unicodeScalars {
            let ok =
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") || scalar == "_"
            result.unicodeScalars.append(ok ? scalar : "_")
        }
        return result.isEmpty ? "_" : result
    }
}
