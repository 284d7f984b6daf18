import Controller
import MeshModel
import ProxyCore
import Testing

/// The policy a proxy gets for a Service port, worked out from manifests as a user writes them.
@Suite struct PolicyResolverTests {
    static let services = """
        apiVersion: v1
        kind: Service
        metadata:
          name: voting
          namespace: emojivoto
          annotations:
            retry.swiftlet.io/http: gateway-error
            timeout.swiftlet.io/request: 5s
            balancer.swiftlet.io/failure-accrual: consecutive
            balancer.swiftlet.io/failure-accrual-consecutive-max-failures: "3"
            balancer.swiftlet.io/failure-accrual-consecutive-max-penalty: 30s
        spec: {selector: {app: voting}, ports: [{name: grpc, port: 8080}, {name: admin, port: 9990}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting-v2, namespace: emojivoto}
        spec: {selector: {app: voting-v2}, ports: [{name: grpc, port: 8080}]}
        ---
        apiVersion: policy.swiftlet.io/v1alpha1
        kind: FaultInjection
        metadata: {name: flaky, namespace: emojivoto}
        spec: {abort: {percent: 10, httpStatus: 503}}

        """

    static let route = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: split, namespace: emojivoto}
        spec:
          parentRefs: [{group: core, kind: Service, name: voting, port: 8080}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /vote}}]
            filters:
            - {type: ExtensionRef, extensionRef: {group: policy.swiftlet.io, kind: FaultInjection, name: flaky}}
            - {type: ExtensionRef, extensionRef: {group: policy.swiftlet.io, kind: FaultInjection, name: missing}}
            backendRefs:
            - {name: voting, port: 8080, weight: 90}
            - {name: voting-v2, port: 8080, weight: 10}
            - {name: voting-v3, port: 8080, weight: 5}
            - {name: voting-v2, port: 9999, weight: 5}
            timeouts: {backendRequest: 1s}

        """

    static func snapshot(_ texts: [String: String]) throws -> ClusterSnapshot {
        var objects: [ClusterObject] = []
        for (file, text) in texts.sorted(by: { $0.key < $1.key }) { objects += try ManifestParser.parse(text, file: file) }
        return ClusterSnapshot(objects)
    }

    static let voting = DestinationAuthority(service: ObjectKey(namespace: "emojivoto", name: "voting"), port: 8080)

    @Test func aServiceWithoutRoutesGetsItsDefaultRuleWithItsAnnotations() throws {
        let policy = try #require(PolicyResolver.policy(for: Self.voting, in: try Self.snapshot(["svc.yaml": Self.services])))
        #expect(policy.routes.isEmpty)
        #expect(policy.defaultRule.backends == [RouteBackend(namespace: "emojivoto", name: "voting", port: 8080)])
        #expect(policy.defaultRule.retry == RouteRetry(statuses: [502...504]))
        #expect(policy.defaultRule.timeouts.request == 5_000_000_000)
        #expect(policy.accrual == FailureAccrual(maxFailures: 3, maxPenalty: 30_000_000_000))
        #expect(
            PolicyResolver.policy(
                for: DestinationAuthority(service: Self.voting.service, port: 1234), in: try Self.snapshot(["svc.yaml": Self.services]))
                == nil)
    }

    @Test func aRoutesReferencesAreResolvedAndWhatIsMissingKeepsItsReason() throws {
        let snapshot = try Self.snapshot(["svc.yaml": Self.services, "route.yaml": Self.route])
        let policy = try #require(PolicyResolver.policy(for: Self.voting, in: snapshot))
        #expect(policy.routes.count == 1)
        let rule = policy.routes[0].rules[0]
        #expect(
            rule.backends.map(\.unresolved) == [
                nil, nil, "backend Service emojivoto/voting-v3 does not exist", "backend Service emojivoto/voting-v2 has no port 9999",
            ])
        #expect(
            rule.filters == [
                .fault(RouteFault(abortPercent: 10, abortStatus: 503)),
                .extensionRef(group: "policy.swiftlet.io", kind: "FaultInjection", name: "missing"),
            ])
        // The rule's own per-try timeout, the Service's request timeout and retry where the rule says nothing.
        #expect(rule.timeouts == RouteTimeouts(request: 5_000_000_000, backendRequest: 1_000_000_000))
        #expect(rule.retry == RouteRetry(statuses: [502...504]))
        // The route is on port 8080 only.
        let admin = try #require(PolicyResolver.policy(for: DestinationAuthority(service: Self.voting.service, port: 9990), in: snapshot))
        #expect(admin.routes.isEmpty)
    }

    @Test func problemsAreReportedWhereTheyWereWritten() throws {
        let orphan = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: orphan, namespace: emojivoto}
            spec:
              parentRefs: [{name: public-gateway}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: lost, namespace: emojivoto}
            spec:
              parentRefs: [{kind: Service, group: "", name: nowhere}]

            """
        let grpc = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: grpc, namespace: emojivoto}
            spec:
              parentRefs: [{kind: Service, group: "", name: voting}]

            """
        let problems = PolicyResolver.problems(
            in: try Self.snapshot(["svc.yaml": Self.services, "route.yaml": Self.route, "orphan.yaml": orphan, "grpc.yaml": grpc]))
        let described = problems.map { "\($0.file):\($0.line): \($0.message)" }
        #expect(described.contains { $0.hasPrefix("route.yaml:14:") && $0.contains("voting-v3 does not exist") && $0.contains("500") })
        #expect(described.contains { $0.hasPrefix("route.yaml:15:") && $0.contains("has no port 9999") })
        #expect(described.contains { $0.hasPrefix("route.yaml:") && $0.contains("FaultInjection missing") })
        #expect(described.contains { $0.hasPrefix("route.yaml:") && $0.contains("GRPCRoute is attached there too") })
        #expect(
            described.contains {
                $0.hasPrefix("orphan.yaml:1:") && $0.contains("no parentRef is a Service")
                    && $0.contains("Gateway emojivoto/public-gateway")
            })
        #expect(described.contains { $0.hasPrefix("orphan.yaml:7:") && $0.contains("parent Service emojivoto/nowhere does not exist") })
        #expect(problems.count == 6, "\(described)")
    }
}
