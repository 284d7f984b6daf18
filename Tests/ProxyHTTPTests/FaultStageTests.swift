import MeshModel
import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The fault stage (FaultInjection) against scripted upstreams: aborts in HTTP's and gRPC's terms, and delays.
@Suite struct FaultStageTests {
    static func policy(_ fault: RouteFault) -> ServicePolicy {
        ExchangeHarness.servicePolicy(routes: [
            Route(
                kind: .http, namespace: "demo", name: "r",
                rules: [
                    RouteRule(
                        matches: .http([]), filters: [.fault(fault)], backends: [RouteBackend(namespace: "demo", name: "web", port: 8080)])
                ])
        ])
    }

    @Test func anAbortAnswersWithItsStatusAndNothingGoesUpstream() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(Self.policy(RouteFault(abortPercent: 100, abortStatus: 418)))
        let answer = harness.send()
        #expect(answer.status == 418 && String(buffer: answer.body) == "fault injected\n")
        #expect(harness.upstreams.attempts.isEmpty, "nothing went upstream")
        #expect(harness.metric("outbound_http_route_request_statuses_total", "http_status=\"418\"") == 1)
    }

    @Test func aGRPCCallIsAbortedWithAGRPCStatus() {
        let harness = ExchangeHarness(http2: true)
        harness.endpoints(1)
        harness.policy(Self.policy(RouteFault(abortPercent: 100, abortStatus: 503)))
        let mapped = harness.send("POST", "/test.Echo/Unary", fields: [("content-type", "application/grpc")])
        #expect(mapped.status == 200 && mapped.head?.fields.first("grpc-status") == "14", "503 is UNAVAILABLE to gRPC")

        let explicit = ExchangeHarness(http2: true)
        explicit.endpoints(1)
        explicit.policy(Self.policy(RouteFault(abortPercent: 100, abortStatus: 503, abortGRPCStatus: 8)))
        #expect(
            explicit.send("POST", "/test.Echo/Unary", fields: [("content-type", "application/grpc")]).head?.fields.first("grpc-status")
                == "8")
    }

    @Test func aDelayHoldsTheRequestForItsDurationThenItGoesOn() {
        let harness = ExchangeHarness()
        harness.endpoints(1)
        harness.policy(Self.policy(RouteFault(delayPercent: 100, delay: 200_000_000)))
        let delayed = harness.send()
        harness.advance(.milliseconds(199))
        #expect(harness.upstreams.attempts.isEmpty && delayed.status == nil)
        harness.advance(.milliseconds(1))
        #expect(delayed.status == 200)
    }
}
