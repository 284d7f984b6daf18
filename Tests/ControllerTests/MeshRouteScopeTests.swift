import Controller
import Foundation
import MeshModel
import ProxyCore
import Testing

/// How the Gateway API's mesh profile (GEP-1294) scopes routes, in the manifests of its conformance cases: a
/// producer route (in its Service's namespace) serves every client, a consumer route (elsewhere) only clients of
/// its own namespace and in place of the producer's; `hostnames` infer nothing; and an XBackendTrafficPolicy (or
/// the budget annotations) sets the Service's retry budget.
@Suite struct MeshRouteScopeTests {
    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: echo-v1, namespace: gateway-conformance-mesh}
        spec: {selector: {app: echo, version: v1}, ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo-v2, namespace: gateway-conformance-mesh}
        spec: {selector: {app: echo, version: v2}, ports: [{name: http, port: 80, targetPort: 8080}]}

        """

    /// conformance/tests/mesh/mesh-consumer-route.yaml, as it is (Tests/Fixtures/gateway-conformance).
    static let consumerRoute =
        (try? String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/gateway-conformance/mesh-consumer-route.yaml"), encoding: .utf8
        )) ?? ""

    static let producerRoute = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: producer, namespace: gateway-conformance-mesh}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo-v1}]
          hostnames: [not-the-service.example]
          rules:
          - backendRefs: [{name: echo-v2, port: 80}]

        """

    static let echoV1 = DestinationAuthority(service: ObjectKey(namespace: "gateway-conformance-mesh", name: "echo-v1"), port: 80)

    static func snapshot(_ texts: String...) throws -> ClusterSnapshot {
        ClusterSnapshot(try texts.enumerated().flatMap { try ManifestParser.parse($0.element, file: "file-\($0.offset).yaml") })
    }

    static func routeNames(_ policy: ServicePolicy?) -> [String] { policy?.routes.map { "\($0.namespace)/\($0.name)" } ?? [] }

    @Test func aConsumerRouteAppliesOnlyToClientsOfItsNamespace() throws {
        let snapshot = try Self.snapshot(Self.services, Self.consumerRoute)
        let consumer = PolicyResolver.policy(for: Self.echoV1, clientNamespace: "gateway-conformance-mesh-consumer", in: snapshot)
        #expect(Self.routeNames(consumer) == ["gateway-conformance-mesh-consumer/mesh-echo-add-header"])
        let producer = PolicyResolver.policy(for: Self.echoV1, clientNamespace: "gateway-conformance-mesh", in: snapshot)
        #expect(Self.routeNames(producer) == [], "clients of the Service's namespace do not see another namespace's route")
        let elsewhere = PolicyResolver.policy(for: Self.echoV1, clientNamespace: "third", in: snapshot)
        #expect(Self.routeNames(elsewhere) == [])
    }

    @Test func aConsumerRouteTakesThePlaceOfTheProducersForItsNamespaceOnly() throws {
        let snapshot = try Self.snapshot(Self.services, Self.consumerRoute, Self.producerRoute)
        #expect(
            Self.routeNames(PolicyResolver.policy(for: Self.echoV1, clientNamespace: "gateway-conformance-mesh-consumer", in: snapshot))
                == [
                    "gateway-conformance-mesh-consumer/mesh-echo-add-header"
                ])
        for client in ["gateway-conformance-mesh", "third", nil] {
            #expect(
                Self.routeNames(PolicyResolver.policy(for: Self.echoV1, clientNamespace: client, in: snapshot)) == [
                    "gateway-conformance-mesh/producer"
                ])
        }
    }

    @Test func hostnamesOfAServiceParentedRouteInferNothing() throws {
        let snapshot = try Self.snapshot(Self.services, Self.producerRoute)
        let policy = try #require(PolicyResolver.policy(for: Self.echoV1, clientNamespace: "gateway-conformance-mesh", in: snapshot))
        #expect(policy.routes.allSatisfy { $0.hostnames.isEmpty })
        var random = SystemRandomNumberGenerator()
        guard let match = CompiledPolicy(policy).rule(for: RouteRequest(method: "GET", authority: "echo-v1:80", target: "/")),
            case .success(let index) = match.backend(using: &random)
        else {
            Issue.record("the route did not take a request for another host")
            return
        }
        #expect(match.rule.backends[index].name == "echo-v2")
    }

    @Test func anXBackendTrafficPolicysRetryConstraintIsTheServicesBudget() throws {
        let policy = """
            apiVersion: gateway.networking.x-k8s.io/v1alpha1
            kind: XBackendTrafficPolicy
            metadata: {name: budget, namespace: gateway-conformance-mesh}
            spec:
              targetRefs: [{group: "", kind: Service, name: echo-v1}]
              retryConstraint:
                budget: {percent: 50, interval: 20s}
                minRetryRate: {count: 30, interval: 10s}

            """
        let snapshot = try Self.snapshot(Self.services, policy)
        let budget = PolicyResolver.policy(for: Self.echoV1, in: snapshot)?.budget
        #expect(budget == RetryBudget.Settings(ratio: 0.5, perSecond: 3, window: 20))
        let other = DestinationAuthority(service: ObjectKey(namespace: "gateway-conformance-mesh", name: "echo-v2"), port: 80)
        #expect(PolicyResolver.policy(for: other, in: snapshot)?.budget == nil, "only the Services it targets")
        // GEP-3388's defaults for what is left out: 20 % over 10 s, 10 a second.
        let defaults = policy.replacingOccurrences(
            of: "    budget: {percent: 50, interval: 20s}\n    minRetryRate: {count: 30, interval: 10s}\n", with: "    budget: {}\n")
        #expect(PolicyResolver.policy(for: Self.echoV1, in: try Self.snapshot(Self.services, defaults))?.budget == RetryBudget.Settings())
    }

    @Test func theBudgetAnnotationsSayTheSameOnAnyChannel() throws {
        let annotated = Self.services.replacingOccurrences(
            of: "metadata: {name: echo-v1, namespace: gateway-conformance-mesh}",
            with:
                "metadata: {name: echo-v1, namespace: gateway-conformance-mesh, annotations: {retry.swiftlet.io/budget-percent: \"50\", "
                + "retry.swiftlet.io/budget-interval: 20s, retry.swiftlet.io/min-retry-rate: 30/10s}}"
        )
        #expect(
            PolicyResolver.policy(for: Self.echoV1, in: try Self.snapshot(annotated))?.budget
                == RetryBudget.Settings(ratio: 0.5, perSecond: 3, window: 20))
        let bad = annotated.replacingOccurrences(of: "30/10s", with: "often")
        #expect(throws: ManifestError.self) { try Self.snapshot(bad) }
    }
}
