import Controller
import Testing

/// The index on Kubernetes: endpoints are the EndpointSlices' ready addresses, identities and labels come from the
/// pods behind them, and deltas are applied in place, notifying only the watchers they concern.
@Suite struct EndpointSliceIndexTests {
    static let web = ObjectKey(namespace: "ns", name: "web")
    static let authority = DestinationAuthority(service: web, port: 80)

    static func service(_ key: ObjectKey = web) -> ServiceSpec {
        ServiceSpec(key: key, selector: ["app": key.name], ports: [.init(name: "http", port: 80, targetPort: .name("http"))])
    }

    static func pod(_ name: String, ip: String, app: String = "web", meshed: Bool = true) -> WorkloadSpec {
        WorkloadSpec(
            key: ObjectKey(namespace: "ns", name: name), labels: ["app": app, "pod-template-hash": "7f9d"], serviceAccount: "\(app)-sa",
            address: ip,
            ports: [.init(name: "http", port: 8080)], meshed: meshed, owner: .init(kind: "Deployment", name: app)
        )
    }

    static func slice(_ name: String, service: ObjectKey = web, _ endpoints: [(String, String?, Bool)]) -> EndpointSliceSpec {
        EndpointSliceSpec(
            key: ObjectKey(namespace: "ns", name: name), service: service, ports: [.init(name: "http", port: 8080)],
            endpoints: endpoints.map { .init(address: $0.0, ready: $0.2, pod: $0.1) }
        )
    }

    static func addresses(_ state: DestinationResolution?) -> [String] {
        guard case .endpoints(let endpoints, _) = state else { return [] }
        return endpoints.keys.map(\.ip).sorted()
    }

    @Test func readyAddressesOfTheSlicesAreTheEndpointsWithThePodsIdentityAndOwner() throws {
        let index = ClusterIndex(endpoints: .endpointSlices)
        var delta = ClusterDelta()
        delta.services[Self.web] = Self.service()
        // web-2 matches the selector but the endpoints controller holds it out (not ready): it is not an endpoint.
        for pod in [Self.pod("web-1", ip: "10.0.0.1"), Self.pod("web-2", ip: "10.0.0.2")] { delta.workloads[pod.key] = pod }
        let slice = Self.slice("web-a", [("10.0.0.1", "web-1", true), ("10.0.0.2", "web-2", false), ("192.168.9.9", nil, true)])
        delta.endpointSlices[slice.key] = slice
        index.apply(delta)
        guard case .endpoints(let endpoints, _) = index.resolve(Self.authority) else {
            Issue.record("no endpoints")
            return
        }
        #expect(endpoints.keys.map(\.ip).sorted() == ["10.0.0.1", "192.168.9.9"])
        let pod = try #require(endpoints[EndpointAddress(ip: "10.0.0.1", port: 8080)])
        #expect(pod.identity == "web-sa.ns.serviceaccount.identity.swiftlet.cluster.local")
        #expect(pod.labels["dst_deployment"] == "web")
        #expect(pod.labels["dst_workload"] == "web")
        #expect(pod.labels["dst_pod_template_hash"] == "7f9d")
        // An address without a Pod (endpoints managed by hand): reachable, no identity to demand.
        #expect(endpoints[EndpointAddress(ip: "192.168.9.9", port: 8080)]?.identity == nil)
    }

    @Test func aDeltaNotifiesOnlyTheWatchersOfWhatItTouches() async {
        let index = ClusterIndex(endpoints: .endpointSlices)
        let db = ObjectKey(namespace: "ns", name: "db")
        var seed = ClusterDelta()
        seed.services[Self.web] = Self.service()
        seed.services[db] = Self.service(db)
        seed.endpointSlices[ObjectKey(namespace: "ns", name: "web-a")] = Self.slice("web-a", [("10.0.0.1", nil, true)])
        seed.endpointSlices[ObjectKey(namespace: "ns", name: "db-a")] = Self.slice("db-a", service: db, [("10.0.1.1", nil, true)])
        index.apply(seed)
        var web = index.watch(Self.authority).makeAsyncIterator()
        var dbUpdates = index.watch(DestinationAuthority(service: db, port: 80)).makeAsyncIterator()
        #expect(Self.addresses(await web.next()) == ["10.0.0.1"])
        #expect(Self.addresses(await dbUpdates.next()) == ["10.0.1.1"])

        // A second slice of web: web's watcher hears of it, db's does not.
        var grow = ClusterDelta()
        grow.endpointSlices[ObjectKey(namespace: "ns", name: "web-b")] = Self.slice("web-b", [("10.0.0.2", nil, true)])
        #expect(index.apply(grow) == 1)
        #expect(Self.addresses(await web.next()) == ["10.0.0.1", "10.0.0.2"])

        // The same delta again changes nothing and tells no one.
        #expect(index.apply(grow) == 0)

        // The pod behind an address appears (meshed): the endpoint now carries an identity.
        var pod = ClusterDelta()
        pod.workloads[ObjectKey(namespace: "ns", name: "web-2")] = Self.pod("web-2", ip: "10.0.0.2")
        pod.endpointSlices[ObjectKey(namespace: "ns", name: "web-b")] = Self.slice("web-b", [("10.0.0.2", "web-2", true)])
        #expect(index.apply(pod) == 1)
        guard case .endpoints(let endpoints, _)? = await web.next() else {
            Issue.record("no endpoints")
            return
        }
        #expect(endpoints[EndpointAddress(ip: "10.0.0.2", port: 8080)]?.identity != nil)

        // Slices removed: no endpoints left, but the Service exists.
        var remove = ClusterDelta()
        remove.endpointSlices[ObjectKey(namespace: "ns", name: "web-a")] = .some(nil)
        remove.endpointSlices[ObjectKey(namespace: "ns", name: "web-b")] = .some(nil)
        #expect(index.apply(remove) == 1)
        #expect(await web.next() == .noEndpoints(exists: true))
        #expect(Self.addresses(index.resolve(DestinationAuthority(service: db, port: 80))) == ["10.0.1.1"])
    }
}
