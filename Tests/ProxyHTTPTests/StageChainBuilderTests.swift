import MeshModel
import NIOCore
import ProxyCore
import Synchronization
import Testing

@testable import ProxyHTTP

/// The builder owns the order of the request path, and a chain holds only the stages its destination, rule or
/// backend uses; stages keep per-exchange state in typed slots.
@Suite struct StageChainBuilderTests {
    /// A stage that only says its name.
    final class Named: HTTPStage {
        let name: String
        init(_ name: String) { self.name = name }
    }

    /// Answers every request with 429, as a rate limit would.
    final class Limit: HTTPStage {
        func request(_ exchange: Exchange) -> StageDecision {
            .respond(HTTPResponseHead(status: 429, fields: HTTPFields([("content-length", "0")])), body: nil)
        }
    }

    /// What a recorder saw, across the exchanges.
    final class Seen: Sendable {
        let requests = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
    }

    /// Records what it saw of each exchange.
    final class Recorder: HTTPStage {
        let seen: Seen
        init(_ seen: Seen) { self.seen = seen }
        func request(_ exchange: Exchange) -> StageDecision {
            self.seen.requests.add(1, ordering: .relaxed)
            return .proceed
        }
        func finished(_ exchange: Exchange) { self.seen.finished.add(1, ordering: .relaxed) }
    }

    static func names(_ chain: StageChain) -> [String] {
        chain.stages.map { ($0 as? Named)?.name ?? String(describing: type(of: $0)) }
    }

    @Test func authorizationAndTapGoFirstThenMetricsThenTheRoute() {
        let harness = ExchangeHarness(
            chainBuilder: StageChainBuilder(first: { _ in [Named("authorization"), Named("tap")] }, then: { _ in [Named("extra")] }))
        let service = harness.resources.chain(for: StageTarget(direction: .outbound, name: ExchangeHarness.authority, discovered: true))
        #expect(Self.names(service) == ["authorization", "tap", "MetricsStage", "extra", "RouteStage"])
        // Inbound, and what discovery has no say over: no route stage, and the balancer resolves the name itself.
        let inbound = harness.resources.chain(for: StageTarget(direction: .inbound, name: "127.0.0.1:8080"))
        #expect(Self.names(inbound) == ["authorization", "tap", "MetricsStage", "extra"])
        guard case .resolved? = inbound.balancer?.source else {
            Issue.record("expected the balancer to resolve the name")
            return
        }
    }

    @Test func aRuleHasOnlyTheStagesItUsesInTheirOrder() throws {
        let shard = MetricsShard()
        let backends = RouteBackends(
            parentKey: ExchangeHarness.authority, discovery: PublishedDiscovery(), clusterDomain: "cluster.local", board: AccrualBoard(),
            shard: shard)
        let web = RouteBackend(namespace: "demo", name: "web", port: 8080)
        let plain = RouteRule(matches: .http([]), backends: [web])
        let full = RouteRule(
            matches: .http([]),
            filters: [.fault(RouteFault(abortPercent: 1)), .responseHeaderModifier(.init(set: [HTTPFieldPair(name: "x", value: "1")]))],
            backends: [web], timeouts: RouteTimeouts(request: 1_000_000_000), retry: RouteRetry(limit: 2)
        )
        let builder = StageChainBuilder.standard
        let request = RouteRequest(method: "GET", authority: ExchangeHarness.authority, target: "/")
        for (rule, expected) in [
            (plain, ["SplitStage"]), (full, ["FaultStage", "ResponseHeadersStage", "SplitStage", "TimeoutStage", "RetryStage"]),
        ] {
            let policy = ExchangeHarness.servicePolicy(routes: [Route(kind: .http, namespace: "demo", name: "r", rules: [rule])])
            let match = try #require(CompiledPolicy(policy).rule(for: request))
            let labels = RouteLabels(family: .http, parentNamespace: "demo", parentName: "web", parentPort: 8080, route: nil)
            let chain = builder.ruleChain(
                match, parent: policy, labels: labels, series: shard.routeSeries(for: labels), backends: backends, routeState: StageSlot())
            #expect(Self.names(chain) == expected)
            #expect(chain.balancer == nil, "the split branches to a backend's chain")
            #expect(chain.replaysRequests == (rule.retry != nil), "only a rule that retries keeps bodies")
        }
        let backend = builder.backendChain(
            web, parent: ExchangeHarness.servicePolicy(),
            labels: RouteLabels(family: .http, parentNamespace: "demo", parentName: "web", parentPort: 8080, route: nil), backends: backends
        )
        #expect(Self.names(backend) == ["BackendMetricsStage"])
        #expect(backend.timesAttempts)
    }

    @Test func aStageThatAnswersEndsTheRequestThereAndEveryStageSeesTheEnd() {
        let before = Seen()
        let after = Seen()
        let harness = ExchangeHarness(chainBuilder: StageChainBuilder(first: { _ in [Recorder(before), Limit(), Recorder(after)] }))
        harness.endpoints(1)
        let answer = harness.send("POST", body: [ByteBuffer(string: "body")])
        #expect(answer.status == 429 && answer.finished)
        #expect(harness.upstreams.attempts.isEmpty)
        #expect(
            before.requests.load(ordering: .relaxed) == 1 && after.requests.load(ordering: .relaxed) == 0,
            "the stages after it never see the request")
        #expect(before.finished.load(ordering: .relaxed) == 1)
    }

    @Test func slotsAreTypedAndEachStageSeesOnlyItsOwn() {
        final class Count { var value = 0 }
        final class Label { let text: String; init(_ text: String) { self.text = text } }
        let counts = StageSlot<Count>()
        let labels = StageSlot<Label>()
        let others = (0..<3).map { _ in StageSlot<Label>() }
        var slots = StageSlots()
        #expect(slots[counts] == nil)
        slots[counts] = Count()
        slots[counts]?.value += 2
        slots[labels] = Label("first")
        for (index, slot) in others.enumerated() { slots[slot] = Label("more \(index)") }
        #expect(slots[counts]?.value == 2 && slots[labels]?.text == "first")
        #expect(others.enumerated().allSatisfy { slots[$0.element]?.text == "more \($0.offset)" })
        slots[labels] = nil
        #expect(slots[labels] == nil && slots[others[2]]?.text == "more 2" && slots[counts]?.value == 2)
    }
}
