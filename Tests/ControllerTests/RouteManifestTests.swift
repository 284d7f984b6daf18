import Controller
import Foundation
import Logging
import MeshModel
import ProxyCore
import Testing

/// HTTPRoute, GRPCRoute and FaultInjection documents read as a cluster would accept them, and refused, with their
/// line, where its CRD validation would refuse them.
@Suite struct RouteManifestTests {
    static let canary = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: voting-split
          namespace: emojivoto
          annotations:
            retry.swiftlet.io/http: 5xx
            retry.swiftlet.io/limit: "2"
            timeout.swiftlet.io/request: 3s
        spec:
          parentRefs:
          - {group: core, kind: Service, name: voting, port: 8080}
          - {name: public-gateway}
          hostnames: ["voting.emojivoto.svc.cluster.local"]
          rules:
          - matches:
            - path: {type: PathPrefix, value: /api/}
              method: POST
              headers: [{name: X-Canary, value: "yes"}]
              queryParams: [{type: RegularExpression, name: v, value: "[0-9]+"}]
            filters:
            - type: RequestHeaderModifier
              requestHeaderModifier: {set: [{name: x-route, value: canary}], remove: [x-debug]}
            - type: ExtensionRef
              extensionRef: {group: policy.swiftlet.io, kind: FaultInjection, name: flaky}
            backendRefs:
            - {name: voting, port: 8080, weight: 90}
            - {name: voting-v2, port: 8080, weight: 10}
            timeouts: {request: 10s, backendRequest: 2s}
            retry: {codes: [503], attempts: 3, backoff: 100ms}
          - backendRefs: [{name: voting, port: 8080}]
        """

    static func route(_ text: String) throws -> RouteSpec {
        let objects = try ManifestParser.parse(text, file: "route.yaml")
        guard case .route(let spec)? = objects.first else { throw ManifestError(.syntax, file: "route.yaml", line: 0, "no route") }
        return spec
    }

    @Test func readsAnHTTPRouteWithEverythingACanaryUses() throws {
        let spec = try Self.route(Self.canary)
        #expect(spec.kind == .http)
        #expect(spec.key == ObjectKey(namespace: "emojivoto", name: "voting-split"))
        #expect(spec.parents == [RouteSpec.Parent(service: ObjectKey(namespace: "emojivoto", name: "voting"), port: 8080)])
        #expect(spec.otherParents == ["Gateway emojivoto/public-gateway"])
        #expect(spec.route.hostnames == [.exact("voting.emojivoto.svc.cluster.local")])
        #expect(spec.route.rules.count == 2)
        let rule = spec.route.rules[0]
        guard case .http(let matches) = rule.matches else { Issue.record("not an HTTP rule"); return }
        #expect(matches.count == 1)
        #expect(matches[0].path == .prefix("/api"))
        #expect(matches[0].method == "POST")
        #expect(matches[0].headers == [RouteHeaderMatch(name: "x-canary", value: .exact("yes"))])
        #expect(matches[0].queryParams.first?.name == "v")
        #expect(rule.backends.map(\.name) == ["voting", "voting-v2"])
        #expect(rule.backends.map(\.weight) == [90, 10])
        #expect(rule.backends.allSatisfy { $0.namespace == "emojivoto" && $0.port == 8080 && $0.unresolved == nil })
        #expect(rule.filters.count == 2)
        #expect(rule.filters.last == .extensionRef(group: "policy.swiftlet.io", kind: "FaultInjection", name: "flaky"))
        // The rule's own timeouts and retry win over the route's annotations.
        #expect(rule.timeouts == RouteTimeouts(request: 10_000_000_000, backendRequest: 2_000_000_000))
        #expect(rule.retry == RouteRetry(statuses: [503...503], limit: 3, backoff: 100_000_000))
        // The second rule has only what the annotations give: every path, 5xx retried twice, 3 s for the request.
        let second = spec.route.rules[1]
        #expect(second.matches == .http([.everything]))
        #expect(second.retry == RouteRetry(statuses: [500...599], limit: 2))
        #expect(second.timeouts.request == 3_000_000_000)
        #expect(spec.backendLines["emojivoto/voting-v2:8080"] == 28)
    }

    @Test func readsAGRPCRouteAndAFaultInjection() throws {
        let text = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: emoji, namespace: emojivoto, creationTimestamp: "2024-05-01T12:00:00Z"}
            spec:
              parentRefs: [{kind: Service, group: "", name: emoji-svc}]
              rules:
              - matches:
                - method: {service: emojivoto.v1.EmojiService, method: ListAll}
                - method: {type: RegularExpression, method: "Find.*"}
                  headers: [{name: x-tenant, value: a}]
                backendRefs: [{name: emoji-svc, port: 8080}]
            ---
            apiVersion: policy.swiftlet.io/v1alpha1
            kind: FaultInjection
            metadata: {name: flaky, namespace: emojivoto}
            spec:
              abort: {percent: 12.5, httpStatus: 500, grpcStatus: 14}
              delay: {percent: 5, duration: 200ms}
            """
        let objects = try ManifestParser.parse(text, file: "grpc.yaml")
        #expect(objects.count == 2)
        guard case .route(let spec) = objects[0], case .faultInjection(let fault) = objects[1] else { Issue.record("kinds"); return }
        #expect(spec.kind == .grpc)
        #expect(spec.creationTimestamp == 1_714_564_800)
        #expect(spec.route.created == 1_714_564_800)
        guard case .grpc(let matches) = spec.route.rules[0].matches else { Issue.record("not a gRPC rule"); return }
        #expect(matches[0].service == .exact("emojivoto.v1.EmojiService") && matches[0].method == .exact("ListAll"))
        #expect(matches[1].service == nil && matches[1].headers.count == 1)
        #expect(fault.key == ObjectKey(namespace: "emojivoto", name: "flaky"))
        #expect(fault.fault == RouteFault(abortPercent: 12.5, abortStatus: 500, abortGRPCStatus: 14, delayPercent: 5, delay: 200_000_000))
    }

    @Test func whatTheCRDWouldRefuseIsRefusedWithItsLine() throws {
        func refusal(_ replace: String, with: String) -> ManifestError? {
            do {
                _ = try ManifestParser.parse(Self.canary.replacingOccurrences(of: replace, with: with), file: "route.yaml")
                return nil
            } catch {
                return error
            }
        }
        // Each: the change, the line it breaks, a word the reason must carry.
        let cases: [(String, String, Int, String)] = [
            ("value: /api/}", "value: api}", 17, "must start with"),
            (
                "{type: RegularExpression, name: v, value: \"[0-9]+\"}", "{type: RegularExpression, name: v, value: \"[0-9\"}", 20,
                "regular expression"
            ),
            ("backendRequest: 2s", "backendRequest: 2 seconds", 29, "duration"),
            ("backendRequest: 2s", "backendRequest: 20s", 29, "longer"),
            ("{name: voting-v2, port: 8080, weight: 10}", "{name: voting-v2, weight: 10}", 28, "port"),
            ("method: POST", "method: FETCH", 18, "method"),
            ("type: RequestHeaderModifier", "type: Teleport", 22, "not supported"),
            ("codes: [503]", "codes: [200]", 30, "400 to 599"),
            ("retry.swiftlet.io/http: 5xx", "retry.swiftlet.io/http: 6xx", 7, "retry.swiftlet.io/http"),
            ("hostnames: [\"voting.emojivoto.svc.cluster.local\"]", "hostnames: [\"10.0.0.1\"]", 14, "IP address"),
        ]
        for (from, to, line, word) in cases {
            let error = refusal(from, with: to)
            #expect(error?.line == line, "\(to)")
            #expect(error?.message.contains(word) == true, "\(to): \(error?.message ?? "accepted")")
            #expect(error?.file == "route.yaml")
        }
    }

    /// A Service with one endpoint on `port`: written after another file, its arrival at a watcher says the other
    /// file was read.
    static func marker(port: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: marker, namespace: ns}
        spec: {selector: {app: marker}, ports: [{name: http, port: 80, targetPort: http}]}
        ---
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: marker-0, namespace: ns, labels: {app: marker}}
        spec: {address: 127.0.0.1, ports: [{name: http, port: \(port)}]}
        """
    }

    static func waitForMarker(_ index: ClusterIndex, port: Int) async throws {
        var updates = index.watch(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "marker"), port: 80)).makeAsyncIterator()
        while let state = await updates.next() {
            if case .endpoints(let endpoints, _) = state, endpoints.keys.map(\.port) == [port] { return }
        }
    }

    @Test func aBadRouteEditKeepsTheLastGoodRouteAndItsPlaceInPrecedence() async throws {
        let directory = NSTemporaryDirectory() + "swiftlet-routes-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.canary.write(toFile: directory + "/canary.yaml", atomically: false, encoding: .utf8)
        let index = ClusterIndex()
        let metrics = ControllerMetrics()
        let source = FileSource(directory: directory, index: index, metrics: metrics, logger: Logger(label: "test"))
        let id = RouteObjectID(kind: .http, key: ObjectKey(namespace: "emojivoto", name: "voting-split"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            try await source.loaded()
            let first = try #require(index.snapshot.routes[id])
            #expect(first.route.rules[0].backends.map(\.weight) == [90, 10])

            // A broken edit (a bad regular expression) is reported and changes nothing. A file written after it, and
            // seen by a watcher, shows it was read: the directory's events are handled in order.
            let broken = Self.canary.replacingOccurrences(of: "weight: 10}", with: "weight: 20}").replacingOccurrences(
                of: "\"[0-9]+\"", with: "\"[0-9\"")
            try broken.write(toFile: directory + "/canary.yaml", atomically: false, encoding: .utf8)
            try Self.marker(port: 5432).write(toFile: directory + "/marker.yaml", atomically: false, encoding: .utf8)
            try await Self.waitForMarker(index, port: 5432)
            #expect(metrics.currentErrors.map(\.line) == [20])
            #expect(index.snapshot.routes[id] == first)

            let moved = Self.canary.replacingOccurrences(of: "weight: 90}", with: "weight: 50}").replacingOccurrences(
                of: "weight: 10}", with: "weight: 50}")
            try moved.write(toFile: directory + "/canary.yaml", atomically: false, encoding: .utf8)
            try Self.marker(port: 5433).write(toFile: directory + "/marker.yaml", atomically: false, encoding: .utf8)
            try await Self.waitForMarker(index, port: 5433)
            let second = try #require(index.snapshot.routes[id])
            #expect(second.route.rules[0].backends.map(\.weight) == [50, 50])
            #expect(second.route.created == first.route.created, "an edited route keeps its age")
            #expect(metrics.currentErrors.isEmpty)
            group.cancelAll()
        }
    }
}
