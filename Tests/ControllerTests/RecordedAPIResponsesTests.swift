import Foundation
import Kubernetes
import Testing

@testable import Controller

/// The answers a real kube-apiserver (1.36) gave to the calls Swiftlet makes, fed to the client's decoding and the
/// source's translations: what the mesh would take from a real cluster, without a fake in between.
@Suite struct RecordedAPIResponsesTests {
    static func list<T: KubernetesObject>(_ prefix: String, as: T.Type) throws -> ObjectList<T> {
        let recording = try APIRecording.named(prefix)
        #expect(recording.status == 200)
        return try JSONDecoder().decode(ObjectList<T>.self, from: recording.bodyData)
    }

    static func translate<T>(_ items: [T], key: (T) -> ObjectKey?, _ translate: KubernetesSource.Translate<T>) throws -> ClusterDelta {
        var delta = ClusterDelta()
        for item in items {
            guard let key = key(item) else { continue }
            try translate(&delta, key, item)
        }
        return delta
    }

    @Test func servicesOfTheInitialListAreTakenThoughTheirItemsCarryNoKind() throws {
        let list = try Self.list("24-", as: GenericObject.self)
        // What the API sends: the List has kind and apiVersion, its items do not.
        let raw = try JSONSerialization.jsonObject(with: try APIRecording.named("24-").bodyData) as? [String: Any]
        let firstItem = (raw?["items"] as? [[String: Any]])?.first
        #expect(firstItem?["kind"] == nil && firstItem?["apiVersion"] == nil)
        #expect(list.items.allSatisfy { $0.json["kind"]?.stringValue == "Service" && $0.json["apiVersion"]?.stringValue == "v1" })

        let delta = try Self.translate(list.items, key: { $0.metadata.objectKey }, KubernetesSource.service)
        let web = try #require(delta.services[ObjectKey(namespace: "rec", name: "web")] ?? nil)
        #expect(web.ports == [ServiceSpec.Port(name: "http", port: 8080, targetPort: .name("http"))])
        #expect(web.selector == ["app": "web"])
        #expect(web.clusterIP?.hasPrefix("10.96.") == true)
        #expect((delta.services[ObjectKey(namespace: "rec-other", name: "db")] ?? nil) != nil)
    }

    @Test func everyPageOfAPagedListKeepsThePageOneVersion() throws {
        let first = try Self.list("19-", as: Pod.self)
        let second = try Self.list("20-", as: Pod.self)
        let last = try Self.list("21-", as: Pod.self)
        #expect(first.metadata.continue?.isEmpty == false)
        #expect(second.metadata.resourceVersion == first.metadata.resourceVersion)
        #expect(last.metadata.continue == nil)
    }

    @Test func podsBecomeWorkloadsOfTheirDeployment() throws {
        let list = try Self.list("18-", as: Pod.self)
        let web = list.items.filter { $0.metadata.namespace == "rec" }.compactMap(KubernetesSource.workload)
        #expect(web.count == 2)
        for workload in web {
            #expect(workload.owner == WorkloadSpec.Owner(kind: "Deployment", name: "web"))
            #expect(workload.serviceAccount == "web")
            #expect(workload.ports.contains { $0.name == "http" && $0.port == 8080 })
        }
    }

    @Test func endpointSlicesWithNullEndpointsAreEmptyAndOthersCarryTheirPods() throws {
        let list = try Self.list("28-", as: EndpointSlice.self)
        let specs = list.items.compactMap { slice in slice.metadata.objectKey.flatMap { KubernetesSource.endpointSliceSpec(slice, key: $0) }
        }
        let db = try #require(specs.first { $0.service == ObjectKey(namespace: "rec-other", name: "db") })
        #expect(db.endpoints.isEmpty && db.ports.isEmpty)
        let web = try #require(specs.first { $0.service == ObjectKey(namespace: "rec", name: "web") })
        #expect(web.ports.map(\.port) == [8080])
        #expect(web.endpoints.count == 2 && web.endpoints.allSatisfy { $0.ready && $0.pod?.hasPrefix("web-") == true })
    }

    @Test func routesAndFaultsWithTheirCRDDefaultsAreRead() throws {
        let http = try Self.list("40-", as: GenericObject.self)
        let httpDelta = try Self.translate(http.items, key: { $0.metadata.objectKey }, KubernetesSource.route(.http))
        #expect(httpDelta.routes.values.compactMap { $0 }.count == http.items.count)
        let split = try #require(httpDelta.routes[RouteObjectID(kind: .http, key: ObjectKey(namespace: "rec", name: "web-split"))] ?? nil)
        #expect(split.parents == [RouteSpec.Parent(service: ObjectKey(namespace: "rec", name: "web"), port: 8080)])

        let grpc = try Self.list("44-", as: GenericObject.self)
        let grpcDelta = try Self.translate(grpc.items, key: { $0.metadata.objectKey }, KubernetesSource.route(.grpc))
        #expect(grpcDelta.routes.values.compactMap { $0 }.count == grpc.items.count)

        let faults = try Self.list("48-", as: GenericObject.self)
        let faultDelta = try Self.translate(faults.items, key: { $0.metadata.objectKey }, KubernetesSource.faultInjection)
        #expect(faultDelta.faultInjections.values.compactMap { $0 }.count == 2)
    }

    @Test func aCustomResourceListThatIsCompleteCarriesAnEmptyContinue() throws {
        let empty = try Self.list("54-", as: GenericObject.self)
        #expect(empty.items.isEmpty && empty.metadata.continue == "")
    }

    /// Every line of every recorded watch decodes, bookmarks (zero-valued objects of their kind) included, and
    /// what the objects say translates.
    @Test(arguments: ["56-", "57-", "58-", "59-", "60-", "61-", "62-", "63-", "64-", "65-", "68-"])
    func everyRecordedWatchEventDecodes(_ prefix: String) throws {
        let recording = try APIRecording.named(prefix)
        #expect(recording.header("Transfer-Encoding") == "chunked")
        var bookmarks = 0
        for line in recording.lines {
            let event: WatchEvent<GenericObject>
            if recording.path.hasSuffix("/pods") {
                let pod = try JSONDecoder().decode(WatchEvent<Pod>.self, from: line)
                if case .bookmark = pod { bookmarks += 1 }
                if case .added(let object) = pod { _ = KubernetesSource.workload(object) }
                continue
            } else if recording.path.hasSuffix("/endpointslices") {
                let slice = try JSONDecoder().decode(WatchEvent<EndpointSlice>.self, from: line)
                if case .bookmark(let version) = slice { bookmarks += 1; #expect(!version.isEmpty) }
                continue
            }
            event = try JSONDecoder().decode(WatchEvent<GenericObject>.self, from: line)
            switch event {
            case .bookmark(let version):
                bookmarks += 1
                #expect(!version.isEmpty)
            case .added(let object), .modified(let object):
                guard let key = object.metadata.objectKey else { continue }
                var delta = ClusterDelta()
                if recording.path.hasSuffix("/services") { try KubernetesSource.service(&delta, key, object) }
                if recording.path.hasSuffix("/httproutes") { try KubernetesSource.route(.http)(&delta, key, object) }
                if recording.path.hasSuffix("/grpcroutes") { try KubernetesSource.route(.grpc)(&delta, key, object) }
                if recording.path.hasSuffix("/faultinjections") { try KubernetesSource.faultInjection(&delta, key, object) }
            case .deleted, .error:
                break
            }
        }
        if prefix != "68-" { #expect(bookmarks >= 1, "the recording ends with a bookmark before its timeout") }
    }

    @Test func aWatchFromATooOldVersionIsAnErrorEventWith410() throws {
        for prefix in ["69-", "70-"] {
            let recording = try APIRecording.named(prefix)
            #expect(recording.status == 200)
            let event = try JSONDecoder().decode(WatchEvent<GenericObject>.self, from: try #require(recording.lines.first))
            guard case .error(let status) = event else {
                Issue.record("\(prefix) is not an ERROR event")
                continue
            }
            #expect(status.code == 410 && status.reason == "Expired")
        }
    }

    @Test(arguments: ["66-", "67-", "71-", "72-", "73-", "74-", "75-", "76-", "77-", "78-", "79-"])
    func errorAnswersAreStatusObjectsWithTheirCode(_ prefix: String) throws {
        let recording = try APIRecording.named(prefix)
        let status = try JSONDecoder().decode(APIStatus.self, from: recording.bodyData)
        #expect(status.code == recording.status)
        #expect(status.status == "Failure")
        #expect(status.message?.isEmpty == false)
    }

    @Test func tokenReviewsDecodeWhetherTheyAuthenticateOrNot() throws {
        let good = try JSONDecoder().decode(TokenReview.self, from: try APIRecording.named("80-").bodyData)
        #expect(good.status?.authenticated == true && good.status?.user?.username == "system:serviceaccount:rec:web")
        for prefix in ["81-", "82-", "83-"] {
            let refused = try JSONDecoder().decode(TokenReview.self, from: try APIRecording.named(prefix).bodyData)
            // A refusal has no `authenticated` key at all, only an error.
            #expect(refused.status?.authenticated == nil)
            #expect(refused.status?.error?.contains("invalid bearer token") == true)
        }
    }
}
