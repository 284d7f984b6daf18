import Foundation
import Logging
import NIOCore
import NIOPosix
import ProxyCore
import ProxyHTTP
import ProxyRuntime
import ServiceLifecycle
import Synchronization
import Testing

/// The request path is a chain of stages, and a stage is one type plus one line where the chain is built: three
/// stages only this test defines run inside a real proxy, between curl and the Python upstream.
@Suite(.serialized, .enabled(if: E2E.available("curl")))
struct StageChainTests {
    /// Counts what each stage saw, across the loops' copies of it.
    final class Seen: Sendable {
        let requestsPastTheLimit = Atomic<Int>(0)
        let retries = Atomic<Int>(0)
    }

    /// Adds a field to every request.
    final class AddFieldStage: HTTPStage {
        func request(_ exchange: Exchange) -> StageDecision {
            exchange.request.fields.add("x-stage", "added by a stage")
            return .proceed
        }
    }

    /// Answers `/limited/…` itself with a 429; the stages after it never see those requests.
    final class LimitStage: HTTPStage {
        func request(_ exchange: Exchange) -> StageDecision {
            guard exchange.request.path.hasPrefix("/limited/") else { return .proceed }
            var fields = HTTPFields()
            fields.add("retry-after", "1")
            fields.add("content-length", "11")
            return .respond(HTTPResponseHead(status: 429, fields: fields), body: ByteBuffer(string: "slow down\n\n"))
        }
    }

    /// Keeps the body and tries again, up to three attempts, on a 503 or a failure.
    final class RetryStage: HTTPStage {
        let seen: Seen
        init(seen: Seen) { self.seen = seen }

        var replaysRequests: Bool { true }

        func request(_ exchange: Exchange) -> StageDecision {
            self.seen.requestsPastTheLimit.add(1, ordering: .relaxed)
            return .proceed
        }

        func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
            guard head.status == 503, exchange.attempts < 3 else { return .pass }
            self.seen.retries.add(1, ordering: .relaxed)
            return .retry(after: .zero)
        }

        func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict {
            guard exchange.attempts < 3 else { return .pass }
            self.seen.retries.add(1, ordering: .relaxed)
            return .retry(after: .zero)
        }
    }

    /// Runs a proxy in this process in front of `upstream` with `chainBuilder` (and tap's stage when `tap`), and
    /// `body` with its inbound URL; then shuts it down.
    static func withProxy(
        _ chainBuilder: StageChainBuilder, tap: Bool, upstream: Int, _ body: (String) async throws -> Void
    ) async throws {
        var config = ProxyConfig()
        config.inboundListen = HostPort(host: "127.0.0.1", port: 0)
        config.outboundListen = HostPort(host: "127.0.0.1", port: 0)
        config.adminListen = HostPort(host: "127.0.0.1", port: 0)
        config.tapListen = tap ? HostPort(host: "127.0.0.1", port: 0) : nil
        config.inboundForward = HostPort(host: "127.0.0.1", port: upstream)
        config.workerThreads = 1
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var proxy = ProxyService(config: config, environment: [:], group: group, logger: Logger(label: "stage-test"))
        proxy.chainBuilder = chainBuilder
        let (ready, readyContinuation) = AsyncStream.makeStream(of: ProxyService.BoundAddresses.self)
        proxy.onReady = { readyContinuation.yield($0) }
        let services = ServiceGroup(configuration: .init(services: [proxy], logger: Logger(label: "stage-test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            var addresses = ready.makeAsyncIterator()
            guard let bound = await addresses.next(), let port = bound.inbound.port else { throw HarnessError("the proxy did not start") }
            try await body("http://127.0.0.1:\(port)")
            await services.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await group.shutdownGracefully()
    }

    @Test func stagesDefinedOutsideTheProxyAddAFieldAnswer429AndRetryWithTheBody() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let seen = Seen()
        // The one line: the standard stages, then the test's.
        let builder = StageChainBuilder.standard(then: { _ in [AddFieldStage(), LimitStage(), RetryStage(seen: seen)] })
        try await Self.withProxy(builder, tap: true, upstream: upstream.port) { url in
            // A field added by a stage reaches the application.
            let headers = try await run("curl", ["-sS", "\(url)/headers"])
            #expect(headers.output.contains("x-stage: added by a stage"), "\(headers.output)")

            // The limit answers without the upstream (no x-served-by) and without the stages after it.
            let before = seen.requestsPastTheLimit.load(ordering: .relaxed)
            let limited = try await run("curl", ["-sS", "-D", "-", "\(url)/limited/x"])
            #expect(limited.output.hasPrefix("HTTP/1.1 429"), "\(limited.output)")
            #expect(limited.output.lowercased().contains("retry-after: 1"))
            #expect(!limited.output.lowercased().contains("x-served-by"))
            #expect(seen.requestsPastTheLimit.load(ordering: .relaxed) == before)

            // The upstream fails the first attempt with a 503; the retry sends the kept body again and succeeds.
            let retried = try await run("curl", ["-sS", "-w", " %{http_code}", "--data-binary", "seven b", "\(url)/fail-once/post"])
            #expect(retried.output == "ok /fail-once/post 7 200", "\(retried.output)")
            #expect(seen.retries.load(ordering: .relaxed) == 1)

            // The same connection goes on serving after all three.
            let after = try await run("curl", ["-sS", "\(url)/after", "\(url)/limited/y", "\(url)/again"])
            #expect(after.output == "ok /afterslow down\n\nok /again", "\(after.output)")
        }
    }

    /// A first stage that can sit requests out, counting the hooks it is called for.
    final class SometimesIdleStage: IdleStage, Sendable {
        let idle = Atomic<Bool>(true)
        let hooks = Atomic<Int>(0)

        var isIdle: Bool { self.idle.load(ordering: .relaxed) }

        func request(_ exchange: Exchange) -> StageDecision {
            self.hooks.add(1, ordering: .relaxed)
            return .proceed
        }

        func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) { self.hooks.add(1, ordering: .relaxed) }

        func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
            self.hooks.add(1, ordering: .relaxed)
            return .pass
        }

        func finished(_ exchange: Exchange) { self.hooks.add(1, ordering: .relaxed) }
    }

    /// An idle first stage (tap while no one taps) is skipped for the whole request, hooks and all, and the request
    /// is served as without it; once it is not idle, it sees each request's request, attempt, response and end.
    @Test func anIdleFirstStageIsSkippedForTheWholeRequestAndSeesEverythingOnceAwake() async throws {
        let upstream = try await FixtureProcess.start("upstream.py")
        let stage = SometimesIdleStage()
        // No tap stage ahead of the test's.
        try await Self.withProxy(StageChainBuilder.standard.prepending { _ in [stage] }, tap: false, upstream: upstream.port) { url in
            let idle = try await run("curl", ["-sS", "\(url)/one", "\(url)/two"])
            #expect(idle.output == "ok /oneok /two", "\(idle.output)")
            #expect(stage.hooks.load(ordering: .relaxed) == 0, "an idle stage is called for nothing")

            stage.idle.store(false, ordering: .relaxed)
            let awake = try await run("curl", ["-sS", "\(url)/three"])
            #expect(awake.output == "ok /three", "\(awake.output)")
            #expect(stage.hooks.load(ordering: .relaxed) == 4, "request, attempt, response and end")
        }
    }
}
