import Controller
import Foundation
import Kubernetes
import Logging
import MeshModel
import Testing

import struct MeshModel.RetryBudget
import struct MeshModel.ServicePolicy

/// `KubernetesSource` against the test API server (real HTTPS, a bearer token, list then watch, bookmarks, 410):
/// what a proxy would be told follows the cluster, and the source never re-reads more than the API's protocol asks.
@Suite(.enabled(if: E2E.available("openssl", "curl")))
struct KubernetesSourceTests {
    static let web = DestinationAuthority(service: ObjectKey(namespace: "default", name: "web"), port: 80)

    /// A cluster with Service `web`: pod web-1 (meshed, made by Deployment web), pod web-2 (not meshed), and their
    /// EndpointSlice.
    static func seed(_ api: KubeAPIServer) async throws {
        try await api.apply([
            KubeObjects.serviceAccount("web"),
            KubeObjects.service("web", selector: ["app": "web"]),
            KubeObjects.pod("web-1", ip: "10.1.0.1", labels: ["app": "web"], serviceAccount: "web", replicaSet: ("web-5d9c7b", "5d9c7b")),
            KubeObjects.pod("web-2", ip: "10.1.0.2", labels: ["app": "web"], meshed: false),
            KubeObjects.endpointSlice(
                "web-abcde", service: "web", endpoints: [("10.1.0.1", "web-1", true), ("10.1.0.2", "web-2", true)]
            ),
        ])
    }

    /// Runs a source over `api` while `body` runs.
    static func withSource<T: Sendable>(
        _ api: KubeAPIServer, _ body: @Sendable (ClusterIndex, ControllerMetrics) async throws -> T
    ) async throws -> T {
        let config = try KubernetesConfig.kubeconfig(path: api.kubeconfig.path)
        let client = try KubernetesClient(config: config)
        let index = ClusterIndex(endpoints: .endpointSlices)
        let metrics = ControllerMetrics()
        var logger = Logger(label: "kubernetes-source-test")
        logger.logLevel = .warning
        let source = KubernetesSource(client: client, index: index, metrics: metrics, logger: logger)
        do {
            let result = try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await source.run()
                    return nil
                }
                try await source.loaded()
                let result = try await body(index, metrics)
                group.cancelAll()
                while try await group.next() != nil {}
                return result
            }
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Waits (up to 20 s) until the index's answer for `authority` satisfies `matches`.
    static func eventually(
        _ index: ClusterIndex, _ authority: DestinationAuthority, _ what: String,
        _ matches: @escaping @Sendable (DestinationResolution) -> Bool
    ) async throws -> DestinationResolution {
        try await withThrowingTaskGroup(of: DestinationResolution?.self) { group in
            group.addTask {
                for await state in index.watch(authority) where matches(state) { return state }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                throw HarnessError("timed out waiting until \(what); the index says \(index.resolve(authority))")
            }
            defer { group.cancelAll() }
            guard let state = try await group.next() ?? nil else { throw HarnessError("the index's stream ended before \(what)") }
            return state
        }
    }

    static func endpoints(_ state: DestinationResolution) -> [EndpointAddress: ResolvedEndpoint] {
        if case .endpoints(let endpoints, _) = state { return endpoints }
        return [:]
    }

    @Test func endpointsFollowTheEndpointSlicesWithIdentityAndOwnerFromThePods() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        try await Self.seed(api)
        try await Self.withSource(api) { index, _ in
            let first = try await Self.eventually(index, Self.web, "both pods are endpoints") { Self.endpoints($0).count == 2 }
            let endpoints = Self.endpoints(first)
            let meshed = try #require(endpoints[EndpointAddress(ip: "10.1.0.1", port: 8080)])
            #expect(meshed.identity == "web.default.serviceaccount.identity.swiftlet.cluster.local")
            #expect(meshed.labels["dst_deployment"] == "web")
            #expect(meshed.labels["dst_pod"] == "web-1")
            #expect(meshed.labels["dst_serviceaccount"] == "web")
            #expect(endpoints[EndpointAddress(ip: "10.1.0.2", port: 8080)]?.identity == nil)

            // web-2 fails its readiness probe: the endpoints controller marks it not ready, and it leaves.
            try await api.apply([
                KubeObjects.endpointSlice(
                    "web-abcde", service: "web", endpoints: [("10.1.0.1", "web-1", true), ("10.1.0.2", "web-2", false)])
            ])
            let ready = try await Self.eventually(index, Self.web, "the unready pod left") { Self.endpoints($0).count == 1 }
            #expect(Self.endpoints(ready).keys.first == EndpointAddress(ip: "10.1.0.1", port: 8080))

            // A new pod, then its slice entry: it joins, with its identity once its Pod is known.
            try await api.apply([
                KubeObjects.pod("web-3", ip: "10.1.0.3", labels: ["app": "web"], serviceAccount: "web"),
                KubeObjects.endpointSlice(
                    "web-abcde", service: "web",
                    endpoints: [("10.1.0.1", "web-1", true), ("10.1.0.2", "web-2", false), ("10.1.0.3", "web-3", true)]
                ),
            ])
            // Pods and slices are separate watches: the address may be known a moment before its Pod.
            let grown = try await Self.eventually(index, Self.web, "the new pod joined with its identity") {
                Self.endpoints($0).count == 2 && Self.endpoints($0)[EndpointAddress(ip: "10.1.0.3", port: 8080)]?.identity != nil
            }
            #expect(Self.endpoints(grown)[EndpointAddress(ip: "10.1.0.3", port: 8080)]?.labels["dst_pod"] == "web-3")

            // The Service goes: the destination no longer exists.
            try await api.delete("Service", namespace: "default", "web")
            _ = try await Self.eventually(index, Self.web, "the Service is gone") { $0 == .noEndpoints(exists: false) }
        }
        // The client chose HTTP/2 (ALPN), as it will with a real API server: its lists and watches shared streams
        // of one connection.
        let protocols = try await api.protocols()
        #expect(protocols["h2", default: 0] >= 1, "\(protocols)")
        // Everything came from one list per kind and the watches: no relist, no watch without a version.
        // (FaultInjection's CRD is not installed here: the kind is not served, and it is looked for every 30 s.)
        let stats = try await api.stats()
        #expect(stats["faultinjections"] == nil)
        for resource in ["pods", "services", "endpointslices", "httproutes", "grpcroutes"] {
            #expect(stats[resource]?.lists == 1, "\(resource) was listed \(stats[resource]?.lists ?? 0) times")
            #expect(stats[resource]?.watchesWithoutVersion == 0)
        }
    }

    @Test func aCutWatchResumesFromTheLastVersionWithoutRelisting() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        try await Self.seed(api)
        try await Self.withSource(api) { index, _ in
            _ = try await Self.eventually(index, Self.web, "both pods are endpoints") { Self.endpoints($0).count == 2 }
            for round in 1...3 {
                try await api.cutWatches()
                // Written after the cut: seen only if the watch came back from where it was.
                let ip = "10.1.1.\(round)"
                try await api.apply([
                    KubeObjects.pod("extra-\(round)", ip: ip, labels: ["app": "web"], serviceAccount: "web"),
                    KubeObjects.endpointSlice("web-extra-\(round)", service: "web", endpoints: [(ip, "extra-\(round)", true)]),
                ])
                // Its identity comes from the Pod: both the slices' and the pods' watches came back.
                _ = try await Self.eventually(index, Self.web, "round \(round)'s pod joined with its identity") {
                    Self.endpoints($0).count == 2 + round && Self.endpoints($0)[EndpointAddress(ip: ip, port: 8080)]?.identity != nil
                }
            }
        }
        let stats = try await api.stats()
        for resource in ["pods", "services", "endpointslices"] {
            #expect(stats[resource]?.lists == 1, "\(resource) was listed \(stats[resource]?.lists ?? 0) times")
            #expect(stats[resource]?.watchesWithoutVersion == 0)
        }
        // Pods and slices changed after each cut, so their watches were opened again each time (the Services'
        // may still be waiting out its backoff after the last cut).
        for resource in ["pods", "endpointslices"] {
            #expect((stats[resource]?.watches ?? 0) >= 4, "\(resource): each cut watch is opened again")
        }
    }

    @Test func aVersionTooOldCausesExactlyOneRelistThatForgetsWhatWentAway() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        try await Self.seed(api)
        try await Self.withSource(api) { index, metrics in
            _ = try await Self.eventually(index, Self.web, "both pods are endpoints") { Self.endpoints($0).count == 2 }
            // The API server restarts: each kind's watch comes back with a version its cache no longer holds (410).
            // What changed meanwhile is known only from the relist: web-2 was deleted and its slice entry went.
            try await api.restart()
            try await api.apply([KubeObjects.endpointSlice("web-abcde", service: "web", endpoints: [("10.1.0.1", "web-1", true)])])
            try await api.delete("Pod", namespace: "default", "web-2")
            let after = try await Self.eventually(index, Self.web, "web-2 left") { Self.endpoints($0).count == 1 }
            #expect(Self.endpoints(after).keys.first == EndpointAddress(ip: "10.1.0.1", port: 8080))
            // The pod's own address no longer names a workload either (its deletion came through the pods' relist).
            let byAddress = DestinationAuthority(workloadAddress: "10.1.0.2", port: 8080)
            _ = try await Self.eventually(index, byAddress, "web-2's address is no pod's") { $0 == .noEndpoints(exists: false) }
            let text = metrics.render(index: index)
            #expect(text.contains("controller_kubernetes_relists_total{resource=\"pods\"} 1"))
        }
        let stats = try await api.stats()
        for resource in ["pods", "services", "endpointslices", "httproutes", "grpcroutes"] {
            #expect(stats[resource]?.lists == 2, "\(resource) was listed \(stats[resource]?.lists ?? 0) times, not once more after the 410")
        }
    }

    @Test func routesFromTheAPIAreReadLikeManifestsAndABadEditKeepsTheLastGoodOne() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        try await Self.seed(api)
        // What the API accepts (its CRD's schema refuses a weight that is not a number) but the mesh cannot read: a
        // retry annotation that is not a number.
        @Sendable func route(retries: String) -> [String: Any] {
            [
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": [
                    "name": "web-split", "namespace": "default",
                    "annotations": ["retry.swiftlet.io/http": "5xx", "retry.swiftlet.io/limit": retries],
                ],
                "spec": [
                    "parentRefs": [["group": "core", "kind": "Service", "name": "web", "port": 80]],
                    "rules": [["backendRefs": [["name": "web", "port": 80, "weight": 3]]]],
                ],
            ]
        }
        try await api.apply([route(retries: "3")])
        try await Self.withSource(api) { index, metrics in
            let id = RouteObjectID(kind: .http, key: ObjectKey(namespace: "default", name: "web-split"))
            let good = try #require(index.snapshot.routes[id])
            // A retry limit that is not a number: rejected with where and why, and the accepted route stays.
            try await api.apply([route(retries: "many")])
            let deadline = ContinuousClock.now + .seconds(20)
            while metrics.currentErrors.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let error = try #require(metrics.currentErrors.first)
            #expect(error.file == "HTTPRoute default/web-split")
            #expect(error.message.contains("retry.swiftlet.io/limit"))
            #expect(index.snapshot.routes[id] == good)
            // Fixed: the error is gone from the metrics, and the new limit is in force.
            try await api.apply([route(retries: "5")])
            let fixedBy = ContinuousClock.now + .seconds(20)
            while !metrics.currentErrors.isEmpty, ContinuousClock.now < fixedBy { try await Task.sleep(for: .milliseconds(20)) }
            #expect(metrics.currentErrors.isEmpty)
            #expect(index.snapshot.routes[id] != good)
        }
    }

    /// The Gateway API's channels as a cluster has them: on the experimental channel a rule's `retry` and an
    /// XBackendTrafficPolicy reach the policy; on the standard channel the API server drops the rule's `retry` (and
    /// refuses it when the client asks for strict field validation, as kubectl does), which is why retries there are
    /// the annotations' and `check` says so.
    @Test(arguments: ["experimental", "standard"])
    func routeRetryAndRetryBudgetsFollowTheGatewayAPIChannel(_ channel: String) async throws {
        let api = try await KubeAPIServer.start(gatewayAPI: channel)
        defer { api.stop() }
        try await Self.seed(api)
        let route: [String: Any] = [
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": ["name": "web-retry", "namespace": "default"],
            "spec": [
                "parentRefs": [["group": "", "kind": "Service", "name": "web", "port": 80]],
                "rules": [["retry": ["codes": [503], "attempts": 2], "backendRefs": [["name": "web", "port": 80]]]],
            ],
        ]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: route), as: UTF8.self)
        let strict = try await api.request(
            "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes?fieldValidation=Strict", json: body)
        if channel == "standard" {
            #expect(
                strict.status == 400 && strict.body.contains("strict decoding error: unknown field")
                    && strict.body.contains("spec.rules[0].retry"), "\(strict)")
            try await api.apply([route])  // without strict validation: accepted, the retry dropped
        } else {
            #expect(strict.status == 201, "\(strict)")
            try await api.apply([
                [
                    "apiVersion": "gateway.networking.x-k8s.io/v1alpha1", "kind": "XBackendTrafficPolicy",
                    "metadata": ["name": "web-budget", "namespace": "default"],
                    "spec": [
                        "targetRefs": [["group": "", "kind": "Service", "name": "web"]],
                        "retryConstraint": [
                            "budget": ["percent": 50, "interval": "20s"], "minRetryRate": ["count": 30, "interval": "10s"],
                        ],
                    ],
                ]
            ])
        }
        try await Self.withSource(api) { index, _ in
            let deadline = ContinuousClock.now + .seconds(20)
            var policy: ServicePolicy? = nil
            while ContinuousClock.now < deadline {
                policy = PolicyResolver.policy(for: Self.web, in: index.snapshot)
                if policy?.routes.first?.name == "web-retry", channel == "standard" || policy?.budget != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let rule = try #require(policy?.routes.first?.rules.first)
            if channel == "experimental" {
                #expect(rule.retry?.limit == 2 && rule.retry?.statuses == [503...503], "\(String(describing: rule.retry))")
                #expect(policy?.budget == RetryBudget.Settings(ratio: 0.5, perSecond: 3, window: 20))
            } else {
                #expect(rule.retry == nil, "the API server pruned the rule's retry")
                #expect(policy?.budget == nil)
            }
        }
    }

    @Test func tokenReviewAcceptsOnlyTheServiceAccountsOwnTokenForTheIdentityAudience() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        try await api.registerTokens([
            "web-token": ("default/web", [KubernetesTokenReviewer.audience]),
            "web-api-token": ("default/web", ["https://kubernetes.default.svc"]),
        ])
        let client = try KubernetesClient(config: try KubernetesConfig.kubeconfig(path: api.kubeconfig.path))
        let reviewer = KubernetesTokenReviewer(client: client)
        do {
            try await reviewer.review(token: Array("web-token".utf8), serviceAccount: "web", namespace: "default")
        } catch {
            try? await client.shutdown()
            throw error
        }
        for (token, account, namespace) in [
            ("web-token", "db", "default"), ("web-token", "web", "prod"), ("web-api-token", "web", "default"), ("forged", "web", "default"),
        ] {
            await #expect(throws: IdentityError.self, "\(token) for \(namespace)/\(account)") {
                try await reviewer.review(token: Array(token.utf8), serviceAccount: account, namespace: namespace)
            }
        }
        try await client.shutdown()
    }
}
