import NIOCore
import ProxyCore
import Testing

/// A route's timeouts as the exchange's logic sees them, with a manual clock: a try's own timeout (retried like a
/// failure), and the whole request's before and during the response.
@Suite struct ExchangeTimeoutTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ milliseconds: Int64) -> NIODeadline { self.start + .milliseconds(milliseconds) }

    @Test func aTrysTimeoutFailsTheAttemptAndARetryPolicyTriesAgainWithTheKeptBody() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .seconds(10)), retainBody: true)
        machine.tryTimeout = .milliseconds(200)
        _ = machine.requestBody(ByteBuffer(string: "payload"))
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseDeadline == self.at(200), "the try's timeout, not the configured 10 s")
        #expect(machine.overdueResponse(now: self.at(199)) == nil)
        guard let error = machine.overdueResponse(now: self.at(200)) else {
            Issue.record("expected the try to be overdue")
            return
        }
        #expect(error.code == .responseTimeout)
        guard case .retry = machine.upstreamFailed(error, stageRetries: true) else {
            Issue.record("expected a retry")
            return
        }
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.at(250)) else {
            Issue.record("expected the request again")
            return
        }
        guard case .body(let body) = parts.first else {
            Issue.record("expected the kept body first")
            return
        }
        #expect(body == ByteBuffer(string: "payload"))
        #expect(machine.responseDeadline == self.at(450), "each try has its own timeout")
        #expect(machine.attempts == 2)
    }

    @Test func theRequestTimeoutAnswers504BeforeTheResponseAndCutsItDuring() {
        var before = ExchangeStateMachine(configuration: .init())
        _ = before.requestEnd(nil, now: self.start)
        before.targetResolved()
        _ = before.upstreamReady(reused: false, now: self.start)
        guard case .respond(let error) = before.requestTimedOut(after: .milliseconds(300)) else {
            Issue.record("expected a 504")
            return
        }
        #expect(error.code == .requestTimeout)
        #expect(error.code.httpStatus == 504)
        #expect(error.grpcStatus == 4, "gRPC clients see DEADLINE_EXCEEDED")
        #expect(before.phase == .finished)

        var during = ExchangeStateMachine(configuration: .init())
        _ = during.requestEnd(nil, now: self.start)
        during.targetResolved()
        _ = during.upstreamReady(reused: false, now: self.start)
        #expect(during.responseHead(status: 200, endStream: false) == .forward(endStream: false))
        guard case .abortDownstream = during.requestTimedOut(after: .milliseconds(300)) else {
            Issue.record("expected the response to be cut")
            return
        }
        #expect(during.responseBody() == .drop, "nothing more goes downstream")

        var after = ExchangeStateMachine(configuration: .init())
        _ = after.requestEnd(nil, now: self.start)
        after.targetResolved()
        _ = after.upstreamReady(reused: false, now: self.start)
        _ = after.responseHead(status: 200, endStream: true)
        guard case .none = after.requestTimedOut(after: .milliseconds(300)) else {
            Issue.record("a finished exchange has nothing to time out")
            return
        }
    }

    @Test func aBodyLargerThanWhatIsKeptIsNeverRetried() {
        var machine = ExchangeStateMachine(configuration: .init(retainLimit: 8), retainBody: true)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        _ = machine.requestBody(ByteBuffer(string: "0123456789"))
        #expect(machine.bodyTooLargeToRetry)
        #expect(!machine.canRetry)
        guard case .respond = machine.upstreamFailed(ProxyError(.connectionReset, "reset"), stageRetries: true) else {
            Issue.record("expected the failure to be answered, not retried")
            return
        }
    }
}
