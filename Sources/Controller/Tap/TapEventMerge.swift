import SwiftletAPI

/// Merges the events of a tap's pods into the caller's stream: holds the total to `--max-rps` (a request admitted
/// keeps all of its events, one refused loses all of them), and says what each end of a request is — the pod, its
/// namespace and owner — where the address is a workload's. Pure: the session feeds it events and the time.
public struct TapEventMerge: Sendable {
    struct RequestKey: Hashable {
        var proxy: String
        var base: UInt32
        var stream: UInt64
    }

    private var window: TapRateWindow
    private var admitted: Set<RequestKey> = []
    /// The workloads by address (on loopback, several share one: their ports tell them apart).
    private let workloads: [String: [WorkloadSpec]]

    /// Requests whose end never came are forgotten past this many, so a long tap holds bounded memory.
    static let maximumOpenRequests = 10_000

    private let identity: MeshIdentity

    public init(maxRPS: Int, workloads: some Collection<WorkloadSpec>, identity: MeshIdentity = MeshIdentity()) {
        self.window = TapRateWindow(perSecond: maxRPS)
        self.workloads = Dictionary(grouping: workloads, by: \.address)
        self.identity = identity
    }

    /// The event for the caller, or `nil` when the rate bound drops it.
    public mutating func accept(_ event: Swiftlet_Tap_V1_TapEvent, from pod: TapPod, at now: Duration)
        -> Swiftlet_Tap_V1_TapByResourceEvent?
    {
        if case .http(let http) = event.event {
            switch http.event {
            case .requestInit(let request):
                guard self.window.admit(at: now) else { return nil }
                if self.admitted.count >= Self.maximumOpenRequests { self.admitted.removeAll() }
                self.admitted.insert(Self.key(pod, request.id))
            case .responseInit(let response):
                guard self.admitted.contains(Self.key(pod, response.id)) else { return nil }
            case .responseEnd(let end):
                guard self.admitted.remove(Self.key(pod, end.id)) != nil else { return nil }
            case nil:
                break
            }
        }
        var merged = Swiftlet_Tap_V1_TapByResourceEvent()
        merged.event = event
        merged.proxy = pod.name
        switch event.proxyDirection {
        case .inbound:
            merged.destinationResource = pod.resource
            merged.sourceResource = self.resource(at: event.source, identity: event.tls.clientID)
        case .outbound:
            merged.sourceResource = pod.resource
            merged.destinationResource = self.resource(at: event.destination, identity: event.tls.serverID)
        default:
            break
        }
        return merged
    }

    static func key(_ pod: TapPod, _ id: Swiftlet_Tap_V1_TapEvent.Http.StreamId) -> RequestKey {
        RequestKey(proxy: pod.name, base: id.base, stream: id.stream)
    }

    /// The workload at `address`: the only one at its IP, else the one listening on its port, else (a client's
    /// ephemeral port: workloads sharing a node's address, or local mode's loopback) the only one there running as
    /// the peer's mTLS `identity`.
    func resource(at address: Swiftlet_Tap_V1_TcpAddress, identity: String) -> [String: String] {
        let here = self.workloads[TapAddressText.ip(address.ip)] ?? []
        let port = Int(address.port)
        var workload = here.count == 1 ? here[0] : here.first { $0.ports.contains { $0.port == port } || $0.tapPort == port }
        if workload == nil, let (serviceAccount, namespace) = self.identity.parse(identity) {
            let running = here.filter { $0.serviceAccount == serviceAccount && $0.key.namespace == namespace }
            if running.count == 1 { workload = running[0] }
        }
        return workload.map(TapPod.resource(of:)) ?? [:]
    }
}
