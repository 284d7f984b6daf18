import NIOCore
import ProxyCore
import Testing

/// The exchange's logic without sockets: time is a value the test moves.
@Suite struct ExchangeStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ milliseconds: Int64) -> NIODeadline { self.start + .milliseconds(milliseconds) }

    func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aBodilessRequestWaitsForItsTargetThenStreamsAndFinishes() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .milliseconds(500)))
        #expect(machine.phase == .waitingForTarget)
        #expect(machine.requestEnd(nil, now: self.start) == .hold)
        machine.targetResolved()
        #expect(machine.phase == .connecting)
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.at(10)) else {
            Issue.record("expected the request to be sent")
            return
        }
        #expect(parts.count == 1)
        #expect(machine.phase == .streaming)
        // The response timer runs from the request sent.
        #expect(machine.responseDeadline == self.at(510))
        #expect(machine.responseHead(status: 200, endStream: false) == .forward(endStream: false))
        #expect(machine.responseDeadline == nil)
        #expect(machine.responseBody() == .forward)
        #expect(machine.responseEnd() == .forward(requestComplete: true))
        #expect(machine.phase == .finished)
    }

    @Test func bodyPartsAreHeldWhileConnectingAndReadingPausesPastTheLimit() {
        var machine = ExchangeStateMachine(configuration: .init(bufferLimit: 10))
        machine.targetResolved()
        #expect(machine.requestBody(self.body("12345")) == .hold(pause: false))
        #expect(machine.requestBody(self.body("67890")) == .hold(pause: true))
        #expect(!machine.isBelowBufferLimit)
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.start) else {
            Issue.record("expected the held parts")
            return
        }
        #expect(parts.count == 2)
        #expect(machine.isBelowBufferLimit)
        #expect(machine.requestBody(self.body("more")) == .forward)
    }

    @Test func noResponseBeforeTheDeadlineIsAnswered504() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .milliseconds(100)))
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.overdueResponse(now: self.at(99)) == nil, "fired early")
        guard let overdue = machine.overdueResponse(now: self.at(100)), case .respond(let error) = machine.upstreamFailed(overdue) else {
            Issue.record("expected a 504")
            return
        }
        #expect(error.code == .responseTimeout)
        #expect(error.code.httpStatus == 504)
        #expect(machine.phase == .finished)
        // A late response is not forwarded.
        #expect(machine.responseHead(status: 200, endStream: false) == .ignore)
    }

    @Test func aBodilessRequestOnAReusedConnectionThatFailsIsReplayedOnceOnly() {
        var machine = ExchangeStateMachine(configuration: .init())
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: true, now: self.start)
        guard case .retry = machine.upstreamFailed(ProxyError(.connectionReset, "closed")) else {
            Issue.record("expected a replay")
            return
        }
        #expect(machine.phase == .connecting)
        guard case .send(let parts) = machine.upstreamReady(reused: true, now: self.start) else {
            Issue.record("expected the request again")
            return
        }
        #expect(parts.count == 1)
        guard case .respond(let error) = machine.upstreamFailed(ProxyError(.connectionReset, "closed again")) else {
            Issue.record("a second replay")
            return
        }
        #expect(error.code == .connectionReset)
        #expect(machine.attempts == 2)
    }

    @Test func aRequestWhoseBodyWentUpstreamIsNotReplayed() {
        var machine = ExchangeStateMachine(configuration: .init())
        machine.targetResolved()
        _ = machine.upstreamReady(reused: true, now: self.start)
        #expect(machine.requestBody(self.body("payload")) == .forward)
        guard case .respond(let error) = machine.upstreamFailed(ProxyError(.connectionReset, "closed")) else {
            Issue.record("expected the failure to be answered")
            return
        }
        #expect(error.code == .connectionReset)
        // Its body is still arriving: it is read and dropped.
        #expect(machine.phase == .draining)
        #expect(machine.requestBody(self.body("rest")) == .discard)
    }

    @Test func aStageRetryResendsTheKeptBody() {
        var machine = ExchangeStateMachine(configuration: .init(), retainBody: true)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.requestBody(self.body("abc")) == .forward)
        #expect(machine.requestEnd(HTTPFields([("x-sum", "1")]), now: self.start) == .forward)
        guard case .retry = machine.upstreamFailed(ProxyError(.connectionRefused, "refused"), stageRetries: true) else {
            Issue.record("expected a retry")
            return
        }
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.start) else {
            Issue.record("expected the request again")
            return
        }
        guard parts.count == 2, case .body(let body) = parts[0], case .end(let trailers) = parts[1] else {
            Issue.record("expected the body and the end, got \(parts)")
            return
        }
        #expect(String(buffer: body) == "abc")
        #expect(trailers?.first("x-sum") == "1")
    }

    @Test func aBodyLargerThanWhatIsKeptIsNotRetried() {
        var machine = ExchangeStateMachine(configuration: .init(retainLimit: 4), retainBody: true)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        _ = machine.requestBody(self.body("too long"))
        #expect(!machine.canRetry)
        guard case .respond = machine.upstreamFailed(ProxyError(.connectionRefused, "refused"), stageRetries: true) else {
            Issue.record("retried a body it no longer has")
            return
        }
    }

    @Test func aRetryAfterAResponseHeadDropsThatResponse() {
        var machine = ExchangeStateMachine(configuration: .init(), retainBody: true)
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        let retried = machine.retryAfterResponse()
        #expect(retried)
        #expect(machine.phase == .connecting)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 200, endStream: true) == .forward(endStream: true))
        #expect(machine.phase == .finished)
        #expect(machine.attempts == 2)
    }

    @Test func anEarlyResponseFinishesAndTheRestOfTheRequestIsDropped() {
        var machine = ExchangeStateMachine(configuration: .init())
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.requestBody(self.body("part")) == .forward)
        #expect(machine.responseHead(status: 413, endStream: false) == .forward(endStream: false))
        #expect(machine.responseEnd() == .forward(requestComplete: false))
        #expect(machine.phase == .draining)
        #expect(machine.requestBody(self.body("rest")) == .discard)
        #expect(machine.requestEnd(nil, now: self.start) == .finish)
        #expect(machine.phase == .finished)
    }

    @Test func aFailureAfterTheResponseStartedCutsTheDownstream() {
        var machine = ExchangeStateMachine(configuration: .init())
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: true, now: self.start)
        _ = machine.responseHead(status: 200, endStream: false)
        guard case .abortDownstream = machine.upstreamFailed(ProxyError(.connectionReset, "cut")) else {
            Issue.record("expected the downstream to be cut")
            return
        }
    }

    @Test func informationalResponsesPassAndTheFinalOneFollows() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .seconds(1)))
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 100, endStream: false) == .forwardInformational)
        #expect(!machine.responseStarted)
        #expect(machine.responseDeadline != nil)
        #expect(machine.responseHead(status: 200, endStream: false) == .forward(endStream: false))
    }

    @Test func anUpgradeSwitchesOnlyWhenAskedFor() {
        var upgrade = ExchangeStateMachine(configuration: .init(), upgrade: true)
        _ = upgrade.requestEnd(nil, now: self.start)
        upgrade.targetResolved()
        _ = upgrade.upstreamReady(reused: false, now: self.start)
        #expect(upgrade.responseHead(status: 101, endStream: false) == .switchProtocols)
        #expect(upgrade.phase == .finished)

        var plain = ExchangeStateMachine(configuration: .init())
        _ = plain.requestEnd(nil, now: self.start)
        plain.targetResolved()
        _ = plain.upstreamReady(reused: false, now: self.start)
        #expect(plain.responseHead(status: 101, endStream: false) == .ignore)
    }

    @Test func aTrailersOnlyResponseIsWholeInItsHead() {
        var machine = ExchangeStateMachine(configuration: .init())
        _ = machine.requestEnd(nil, now: self.start)
        machine.targetResolved()
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 200, endStream: true) == .forward(endStream: true))
        #expect(machine.responseEnded)
        #expect(machine.responseBody() == .drop)
        #expect(machine.phase == .finished)
    }

    @Test func theClientGoingAwayEndsEverything() {
        var machine = ExchangeStateMachine(configuration: .init())
        machine.targetResolved()
        machine.downstreamClosed()
        #expect(machine.phase == .finished)
        guard case .release = machine.upstreamReady(reused: false, now: self.start) else {
            Issue.record("an upstream opened for nobody must be given back")
            return
        }
    }
}
