import MeshModel
import NIOCore
import ProxyCore
import ProxyGRPC
import SwiftProtobuf
import SwiftletAPI
import Testing

@testable import Controller
@testable import ProxyDiscovery

/// The proxy's hand-written Policy codec reads exactly what the controller's swift-protobuf code writes: a policy
/// using every field goes through the controller's encoder and the proxy's decoder and comes out equal.
struct PolicyWatchMessagesTests {
    static func rich() throws -> ServicePolicy {
        let mirror = RouteBackend(namespace: "emojivoto", name: "voting-shadow", port: 8080, weight: 1)
        let httpRule = RouteRule(
            matches: .http([
                HTTPRouteMatch(
                    path: .prefix("/api"), method: "POST",
                    headers: [
                        RouteHeaderMatch(name: "x-canary", value: .exact("yes")),
                        RouteHeaderMatch(name: "x-user", value: .regularExpression(try RouteRegex("u-[0-9]+"))),
                    ],
                    queryParams: [RouteQueryMatch(name: "v", value: .exact("2"))]
                ),
                HTTPRouteMatch(path: .exact("/health")),
                HTTPRouteMatch(path: .regularExpression(try RouteRegex("/items/[0-9]+"))),
            ]),
            filters: [
                .requestHeaderModifier(
                    .init(
                        set: [HTTPFieldPair(name: "x-route", value: "canary")], add: [HTTPFieldPair(name: "x-hop", value: "1")],
                        remove: ["x-debug"])),
                .responseHeaderModifier(.init(set: [HTTPFieldPair(name: "cache-control", value: "no-store")])),
                .requestRedirect(
                    .init(scheme: "https", hostname: "example.com", path: .replacePrefixMatch("/v2"), port: 8443, statusCode: 301)),
                .urlRewrite(.init(hostname: "internal", path: .replaceFullPath("/rewritten"))),
                .requestMirror(mirror, percent: 12.5),
                .fault(RouteFault(abortPercent: 10, abortStatus: 503, abortGRPCStatus: 14, delayPercent: 2.5, delay: 200_000_000)),
                .extensionRef(group: "policy.swiftlet.io", kind: "FaultInjection", name: "missing"),
            ],
            backends: [
                RouteBackend(namespace: "emojivoto", name: "voting", port: 8080, weight: 90),
                RouteBackend(
                    namespace: "emojivoto", name: "voting-v3", port: 8080, weight: 10,
                    unresolved: "backend Service emojivoto/voting-v3 does not exist",
                    filters: [.requestHeaderModifier(.init(remove: ["x-b"]))]),
            ],
            timeouts: RouteTimeouts(request: 10_000_000_000, backendRequest: 2_000_000_000, idle: 60_000_000_000),
            retry: RouteRetry(statuses: [500...599, 429...429], grpcCodes: [14, 4], limit: 3, backoff: 50_000_000, timeout: 1_000_000_000)
        )
        let grpcRule = RouteRule(
            matches: .grpc([
                GRPCRouteMatch(
                    service: .exact("emojivoto.v1.VotingService"), method: .regularExpression(try RouteRegex("Vote.*")),
                    headers: [RouteHeaderMatch(name: "x-tenant", value: .exact("a"))]),
                GRPCRouteMatch(),
            ]),
            backends: [RouteBackend(namespace: "emojivoto", name: "voting", port: nil, weight: 1)]
        )
        return ServicePolicy(
            namespace: "emojivoto", name: "voting", port: 8080,
            routes: [
                Route(
                    kind: .http, namespace: "emojivoto", name: "split", created: 1_714_564_800,
                    hostnames: [.exact("voting.emojivoto"), .wildcard(".example.com")], rules: [httpRule]),
                Route(kind: .grpc, namespace: "emojivoto", name: "grpc", created: 42, rules: [grpcRule, RouteRule(matches: .grpc([]))]),
            ],
            defaultRule: RouteRule(
                matches: .http([]), backends: [RouteBackend(namespace: "emojivoto", name: "voting", port: 8080)],
                retry: RouteRetry(statuses: [502...504])),
            accrual: FailureAccrual(maxFailures: 3, minPenalty: 500_000_000, maxPenalty: 30_000_000_000, jitterRatio: 0.25),
            budget: RetryBudget.Settings(ratio: 0.5, perSecond: 3, window: 20)
        )
    }

    static func bytes(_ message: some SwiftProtobuf.Message) throws -> ByteBuffer {
        ByteBuffer(bytes: try message.serializedBytes() as [UInt8])
    }

    @Test func aPolicyWithEveryFieldComesThroughUnchanged() throws {
        let policy = try Self.rich()
        let update = Swiftlet_Policy_V1_WatchUpdate.with {
            $0.id = 300
            $0.policy = Controller.PolicyMessages.message(policy)
        }
        let decoded = try PolicyWatchMessages.update(try Self.bytes(update))
        #expect(decoded.id == 300)
        #expect(decoded.policy == policy)
    }

    @Test func anAnswerWithoutPolicyIsNone() throws {
        let decoded = try PolicyWatchMessages.update(try Self.bytes(Swiftlet_Policy_V1_WatchUpdate.with { $0.id = 5 }))
        #expect(decoded.id == 5 && decoded.policy == nil)
    }

    @Test func subscriptionsAreEncodedAsSwiftProtobufEncodesThem() throws {
        let expected = Swiftlet_Policy_V1_WatchRequest.with {
            $0.subscribe = .with {
                $0.id = 129
                $0.authority = "voting.emojivoto.svc.cluster.local:8080"
                $0.contextNamespace = "emojivoto"
            }
        }
        #expect(
            PolicyWatchMessages.subscribe(id: 129, authority: "voting.emojivoto.svc.cluster.local:8080", namespace: "emojivoto")
                == (try Self.bytes(expected)))
        #expect(PolicyWatchMessages.unsubscribe(id: 129) == (try Self.bytes(Swiftlet_Policy_V1_WatchRequest.with { $0.unsubscribe = 129 })))
    }

    @Test func malformedBytesAreAnErrorNotATrap() throws {
        var bytes = try Self.bytes(
            Swiftlet_Policy_V1_WatchUpdate.with {
                $0.id = 1; $0.policy = Controller.PolicyMessages.message(try Self.rich())
            })
        bytes.moveWriterIndex(to: bytes.writerIndex - 7)
        #expect(throws: ProtobufError.self) { try PolicyWatchMessages.update(bytes) }
        var regex = Swiftlet_Policy_V1_ServicePolicy()
        regex.routes = [.with { $0.rules = [.with { $0.httpMatches = [.with { $0.path = .with { $0.regex = "([" } }] }] }]
        #expect(throws: ProtobufError.self) {
            try PolicyWatchMessages.update(try Self.bytes(Swiftlet_Policy_V1_WatchUpdate.with { $0.policy = regex }))
        }
    }
}
