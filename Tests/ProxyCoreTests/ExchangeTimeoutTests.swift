import NIOCore
import ProxyCore
import Testing

/// A route's timeouts as the exchange's logic sees them, with a manual clock: a try's own timeout (retried like a
/// failure), the whole request's before and during the response, and the idle one.
@Suite struct ExchangeTimeoutTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ milliseconds: Int64) -> NIODeadline { self.start + .milliseconds(milliseconds) }

    func sent(_ configuration: ExchangeStateMachine.Configuration = .init(), request: TimeAmount? = nil, idle: TimeAmount? = nil)
        -> ExchangeStateMachine
    {
        var machine = ExchangeStateMachine(configuration: configuration)
        machine.bound(request: request, idle: idle, perTry: nil, started: self.start, now: self.start)
        _ = machine.requestEnd(nil, now: self.start)
        machine.stagesPassed(replay: false)
        _ = machine.upstreamReady(reused: false, now: self.start)
        return machine
    }

    @Test func aTrysTimeoutFailsTheAttemptAndARetryPolicyTriesAgainWithTheKeptBody() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .seconds(10)))
        machine.bound(request: nil, idle: nil, perTry: .milliseconds(200), started: self.start, now: self.start)
        _ = machine.requestBody(ByteBuffer(string: "payload"))
        _ = machine.requestEnd(nil, now: self.start)
        machine.stagesPassed(replay: true)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseDeadline == self.at(200), "the try's timeout, not the configured 10 s")
        guard case .none = machine.timerFired(now: self.at(199)), case .tryTimedOut(let error) = machine.timerFired(now: self.at(200))
        else {
            Issue.record("expected the try to be overdue at 200 ms")
            return
        }
        #expect(error.code == .responseTimeout)
        guard case .retry(now: true) = machine.upstreamFailed(error, retryAfter: .zero, now: self.at(200)) else {
            Issue.record("expected a retry")
            return
        }
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.at(250)), case .body(let body) = parts.first else {
            Issue.record("expected the kept body again")
            return
        }
        #expect(body == ByteBuffer(string: "payload"))
        #expect(machine.responseDeadline == self.at(450), "each try has its own timeout")
        #expect(machine.attempts == 2)
    }

    @Test func theRequestTimeoutAnswers504BeforeTheResponseAndCutsItDuring() {
        var before = self.sent(request: .milliseconds(300))
        #expect(before.nextDeadline == self.at(300))
        guard case .exchangeTimedOut(let error) = before.timerFired(now: self.at(300)), case .respond(let answered) = before.timedOut(error)
        else {
            Issue.record("expected a 504")
            return
        }
        #expect(answered.code == .requestTimeout)
        #expect(answered.code.httpStatus == 504)
        #expect(answered.grpcStatus == 4, "gRPC clients see DEADLINE_EXCEEDED")
        #expect(before.phase == .finished)

        var during = self.sent(request: .milliseconds(300))
        #expect(during.responseHead(status: 200, endStream: false) == .forward(endStream: false))
        guard case .exchangeTimedOut(let error) = during.timerFired(now: self.at(300)), case .abortDownstream = during.timedOut(error)
        else {
            Issue.record("expected the response to be cut")
            return
        }
        #expect(during.responseBody() == .drop, "nothing more goes downstream")

        var after = self.sent(request: .milliseconds(300))
        _ = after.responseHead(status: 200, endStream: true)
        guard case .none = after.timerFired(now: self.at(300)) else {
            Issue.record("a finished exchange has nothing to time out")
            return
        }
    }

    @Test func theIdleTimeoutCountsFromTheLastActivity() {
        var machine = self.sent(idle: .milliseconds(100))
        #expect(machine.watchesIdle)
        #expect(machine.responseHead(status: 200, endStream: false) == .forward(endStream: false))
        machine.activity(now: self.at(80))
        guard case .none = machine.timerFired(now: self.at(100)) else {
            Issue.record("something moved at 80 ms: not idle at 100 ms")
            return
        }
        #expect(machine.nextDeadline == self.at(180))
        guard case .exchangeTimedOut(let error) = machine.timerFired(now: self.at(180)) else {
            Issue.record("expected the idle timeout at 180 ms")
            return
        }
        #expect(error.code == .idleTimeout)
    }

    @Test func aBodyLargerThanWhatIsKeptIsNeverRetried() {
        var machine = ExchangeStateMachine(configuration: .init(retainLimit: 8))
        machine.stagesPassed(replay: true)
        _ = machine.upstreamReady(reused: false, now: self.start)
        _ = machine.requestBody(ByteBuffer(string: "0123456789"))
        #expect(machine.bodyTooLargeToRetry)
        #expect(!machine.canRetry)
        guard case .respond = machine.upstreamFailed(ProxyError(.connectionReset, "reset"), retryAfter: .zero, now: self.start) else {
            Issue.record("expected the failure to be answered, not retried")
            return
        }
    }
}
