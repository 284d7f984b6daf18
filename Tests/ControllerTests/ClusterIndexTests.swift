import Controller
import Testing

@Suite struct ClusterIndexTests {
    static let key = ObjectKey(namespace: "ns", name: "web")
    static let authority = DestinationAuthority(service: key, port: 80)

    static func service(selector: [String: String] = ["app": "web"], hint: String? = nil) -> ServiceSpec {
        ServiceSpec(key: key, selector: selector, ports: [.init(name: "http", port: 80, targetPort: .name("http"), appProtocol: hint)])
    }

    static func workload(_ name: String, port: Int, labels: [String: String] = ["app": "web"], meshed: Bool = true) -> WorkloadSpec {
        WorkloadSpec(
            key: ObjectKey(namespace: "ns", name: name), labels: labels, serviceAccount: "web-sa", address: "127.0.0.1",
            ports: [.init(name: "http", port: port)], meshed: meshed
        )
    }

    static func snapshot(_ services: [ServiceSpec], _ workloads: [WorkloadSpec]) -> ClusterSnapshot {
        ClusterSnapshot(services.map { .service($0) } + workloads.map { .workload($0) })
    }

    static func ports(_ state: DestinationResolution?) -> [Int] {
        guard case .endpoints(let endpoints, _) = state else { return [] }
        return endpoints.keys.map(\.port).sorted()
    }

    @Test func resolvesNamedTargetPortsPerWorkloadWithIdentityAndLabels() throws {
        let index = ClusterIndex()
        index.apply(
            Self.snapshot(
                [Self.service(hint: "grpc")], [Self.workload("web-0", port: 7001), Self.workload("web-1", port: 7002, meshed: false)]))
        guard case .endpoints(let endpoints, let labels) = index.resolve(Self.authority) else {
            Issue.record("no endpoints")
            return
        }
        #expect(labels == ["dst_namespace": "ns", "dst_service": "web"])
        let first = try #require(endpoints[EndpointAddress(ip: "127.0.0.1", port: 7001)])
        #expect(first.identity == "web-sa.ns.serviceaccount.identity.swiftlet.cluster.local")
        #expect(first.protocolHint == .http2)
        #expect(first.labels["dst_pod"] == "web-0")
        #expect(first.labels["dst_workload"] == "web")
        #expect(endpoints[EndpointAddress(ip: "127.0.0.1", port: 7002)]?.identity == nil)
    }

    @Test func tellsAMissingServiceFromAServiceWithoutEndpoints() {
        let index = ClusterIndex()
        #expect(index.resolve(Self.authority) == .noEndpoints(exists: false))
        index.apply(Self.snapshot([Self.service()], []))
        #expect(index.resolve(Self.authority) == .noEndpoints(exists: true))
        #expect(index.resolve(DestinationAuthority(service: Self.key, port: 81)) == .noEndpoints(exists: true))
    }

    @Test func watchersSeeEachChangeThatConcernsThemAndNoOther() async {
        let index = ClusterIndex()
        index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7001)]))
        var updates = index.watch(Self.authority).makeAsyncIterator()
        #expect(Self.ports(await updates.next()) == [7001])

        // A workload joins.
        #expect(
            index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7001), Self.workload("web-1", port: 7002)])) == 1)
        #expect(Self.ports(await updates.next()) == [7001, 7002])
        // An unrelated workload changes: no one is told.
        #expect(
            index.apply(
                Self.snapshot(
                    [Self.service()],
                    [
                        Self.workload("web-0", port: 7001), Self.workload("web-1", port: 7002),
                        Self.workload("db", port: 5432, labels: ["app": "db"]),
                    ])
            ) == 0
        )
        // A workload loses the label the service selects: it leaves.
        #expect(
            index.apply(
                Self.snapshot(
                    [Self.service()], [Self.workload("web-0", port: 7001), Self.workload("web-1", port: 7002, labels: ["app": "old"])])
            ) == 1
        )
        #expect(Self.ports(await updates.next()) == [7001])
        // The service goes away.
        index.apply(Self.snapshot([], [Self.workload("web-0", port: 7001)]))
        #expect(await updates.next() == .noEndpoints(exists: false))
    }

    @Test func aWatcherThatStopsIsForgotten() async {
        let index = ClusterIndex()
        index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7001)]))
        do {
            var updates = index.watch(Self.authority).makeAsyncIterator()
            _ = await updates.next()
            #expect(index.watcherCount == 1)
        }
        #expect(index.watcherCount == 0)
    }

    @Test func aClusterIPAndPortNameTheServicePort() {
        let index = ClusterIndex()
        var service = Self.service()
        service.clusterIP = "10.96.0.10"
        index.apply(Self.snapshot([service], [Self.workload("web-0", port: 7001)]))
        #expect(index.authority(clusterIP: "10.96.0.10", port: 80) == Self.authority)
        #expect(index.authority(clusterIP: "10.96.0.11", port: 80) == nil)
    }

    static func pod(_ name: String, address: String, ports: [Int] = [], serviceAccount: String = "db-sa") -> WorkloadSpec {
        WorkloadSpec(
            key: ObjectKey(namespace: "data", name: name), labels: ["app": "db"], serviceAccount: serviceAccount, address: address,
            ports: ports.map { .init(port: $0) }
        )
    }

    /// A pod dialled by its own address (no Service in between) is still a meshed workload: its identity comes
    /// back, so the connection is mTLS like any other.
    @Test func aWorkloadsOwnAddressResolvesToItWithItsIdentity() throws {
        let index = ClusterIndex()
        index.apply(Self.snapshot([], [Self.pod("db-0", address: "10.244.0.7")]))
        guard case .endpoints(let endpoints, let labels) = index.resolve(DestinationAuthority(workloadAddress: "10.244.0.7", port: 5432))
        else {
            Issue.record("no endpoints")
            return
        }
        #expect(labels == ["dst_namespace": "data"])
        let endpoint = try #require(endpoints[EndpointAddress(ip: "10.244.0.7", port: 5432)])
        #expect(endpoints.count == 1)
        #expect(endpoint.identity == "db-sa.data.serviceaccount.identity.swiftlet.cluster.local")
        #expect(endpoint.labels["dst_pod"] == "db-0")
        // An address no workload has is not the mesh's: the proxy dials it as it is.
        #expect(index.resolve(DestinationAuthority(workloadAddress: "10.244.0.8", port: 5432)) == .noEndpoints(exists: false))
    }

    /// Several workloads at one address (loopback) are told apart by the port each declares.
    @Test func aSharedAddressIsToldApartByPort() {
        let index = ClusterIndex()
        index.apply(
            Self.snapshot(
                [],
                [
                    Self.pod("a", address: "127.0.0.1", ports: [7001], serviceAccount: "a"),
                    Self.pod("b", address: "127.0.0.1", ports: [7002], serviceAccount: "b"),
                ]))
        guard case .endpoints(let endpoints, _) = index.resolve(DestinationAuthority(workloadAddress: "127.0.0.1", port: 7002)) else {
            Issue.record("no endpoints")
            return
        }
        #expect(endpoints.values.first?.labels["dst_pod"] == "b")
        #expect(index.resolve(DestinationAuthority(workloadAddress: "127.0.0.1", port: 7003)) == .noEndpoints(exists: false))
    }

    @Test func aWatcherOfAnAddressLearnsWhenAWorkloadComesAndGoes() async {
        let index = ClusterIndex()
        index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7001)]))
        var updates = index.watch(DestinationAuthority(workloadAddress: "10.244.0.7", port: 5432)).makeAsyncIterator()
        #expect(await updates.next() == .noEndpoints(exists: false))
        // A change elsewhere tells this watcher nothing.
        #expect(index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7009)])) == 0)
        #expect(
            index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7009), Self.pod("db-0", address: "10.244.0.7")])) == 1
        )
        guard case .endpoints(let endpoints, _) = await updates.next() else {
            Issue.record("the new workload was not delivered")
            return
        }
        #expect(endpoints.keys.map(\.description) == ["10.244.0.7:5432"])
        // Moved away (a new pod IP): the old address is no longer the workload's.
        #expect(
            index.apply(Self.snapshot([Self.service()], [Self.workload("web-0", port: 7009), Self.pod("db-0", address: "10.244.0.9")])) == 1
        )
        #expect(await updates.next() == .noEndpoints(exists: false))
    }
}
