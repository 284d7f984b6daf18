import NIOCore
import ProxyCore
import Testing

/// The exchange's logic without sockets: time is a value the test moves.
@Suite struct ExchangeStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ milliseconds: Int64) -> NIODeadline { self.start + .milliseconds(milliseconds) }

    func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// A machine whose stages passed (keeping the body for a replay when `replay`), connecting.
    func connecting(_ configuration: ExchangeStateMachine.Configuration = .init(), replay: Bool = false, upgrade: Bool = false)
        -> ExchangeStateMachine
    {
        var machine = ExchangeStateMachine(configuration: configuration, upgrade: upgrade)
        machine.stagesPassed(replay: replay)
        return machine
    }

    @Test func aBodilessRequestWaitsForItsTargetThenStreamsAndFinishes() {
        var machine = ExchangeStateMachine(configuration: .init(responseTimeout: .milliseconds(500)))
        #expect(machine.phase == .routing(waitingUntil: nil))
        #expect(machine.requestEnd(nil, now: self.start) == .hold)
        machine.stagesPassed(replay: false)
        #expect(machine.phase == .connecting)
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.at(10)) else {
            Issue.record("expected the request to be sent")
            return
        }
        #expect(parts.count == 1)
        // The response timer runs from the request sent.
        #expect(machine.responseDeadline == self.at(510))
        #expect(machine.nextDeadline == self.at(510))
        #expect(machine.responseHead(status: 200, endStream: false) == .forward(endStream: false))
        #expect(machine.phase == .responding)
        #expect(machine.responseDeadline == nil && machine.nextDeadline == nil)
        #expect(machine.responseBody() == .forward)
        #expect(machine.responseEnd() == .forward(requestComplete: true))
        #expect(machine.phase == .finished)
    }

    @Test func bodyPartsAreHeldWhileConnectingAndReadingPausesPastTheLimit() {
        var machine = self.connecting(.init(bufferLimit: 10))
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
        var machine = self.connecting(.init(responseTimeout: .milliseconds(100)))
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: false, now: self.start)
        guard case .none = machine.timerFired(now: self.at(99)) else {
            Issue.record("fired early")
            return
        }
        guard case .tryTimedOut(let overdue) = machine.timerFired(now: self.at(100)),
            case .respond(let error) = machine.upstreamFailed(overdue, now: self.at(100))
        else {
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
        var machine = self.connecting()
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: true, now: self.start)
        guard case .retry(now: true) = machine.upstreamFailed(ProxyError(.connectionReset, "closed"), now: self.start) else {
            Issue.record("expected a replay")
            return
        }
        #expect(machine.phase == .connecting)
        guard case .send(let parts) = machine.upstreamReady(reused: true, now: self.start) else {
            Issue.record("expected the request again")
            return
        }
        #expect(parts.count == 1)
        guard case .respond(let error) = machine.upstreamFailed(ProxyError(.connectionReset, "closed again"), now: self.start) else {
            Issue.record("a second replay")
            return
        }
        #expect(error.code == .connectionReset)
        #expect(machine.attempts == 2)
    }

    @Test func aRequestWhoseBodyWentUpstreamIsNotReplayed() {
        var machine = self.connecting()
        _ = machine.upstreamReady(reused: true, now: self.start)
        #expect(machine.requestBody(self.body("payload")) == .forward)
        guard case .respond(let error) = machine.upstreamFailed(ProxyError(.connectionReset, "closed"), now: self.start) else {
            Issue.record("expected the failure to be answered")
            return
        }
        #expect(error.code == .connectionReset)
        // Its body is still arriving: it is read and dropped.
        #expect(machine.phase == .draining)
        #expect(machine.requestBody(self.body("rest")) == .discard)
    }

    @Test func aStageRetryResendsTheKeptBodyAfterItsBackoff() {
        var machine = self.connecting(replay: true)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.requestBody(self.body("abc")) == .forward)
        #expect(machine.requestEnd(HTTPFields([("x-sum", "1")]), now: self.start) == .forward)
        guard
            case .retry(now: false) = machine.upstreamFailed(
                ProxyError(.connectionRefused, "refused"), retryAfter: .milliseconds(20), now: self.start)
        else {
            Issue.record("expected a retry after the backoff")
            return
        }
        #expect(machine.phase == .backingOff(until: self.at(20)))
        #expect(machine.nextDeadline == self.at(20))
        guard case .none = machine.timerFired(now: self.at(19)), case .retry = machine.timerFired(now: self.at(20)) else {
            Issue.record("expected the retry at the end of the backoff")
            return
        }
        guard case .send(let parts) = machine.upstreamReady(reused: false, now: self.at(21)) else {
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
        var machine = self.connecting(.init(retainLimit: 4), replay: true)
        _ = machine.upstreamReady(reused: false, now: self.start)
        _ = machine.requestBody(self.body("too long"))
        #expect(machine.bodyTooLargeToRetry)
        #expect(!machine.canRetry)
        guard case .respond = machine.upstreamFailed(ProxyError(.connectionRefused, "refused"), retryAfter: .zero, now: self.start) else {
            Issue.record("retried a body it no longer has")
            return
        }
    }

    @Test func aBodyHeldBeforeTheStagesPassedIsKeptForTheReplay() {
        var machine = ExchangeStateMachine(configuration: .init())
        _ = machine.requestBody(self.body("early"))
        machine.stagesPassed(replay: true)
        _ = machine.upstreamReady(reused: false, now: self.start)
        _ = machine.requestEnd(nil, now: self.start)
        #expect(machine.canRetry)
        guard case .retry(now: true) = machine.upstreamFailed(ProxyError(.connectionReset, "reset"), retryAfter: .zero, now: self.start),
            case .send(let parts) = machine.upstreamReady(reused: false, now: self.start), case .body(let body) = parts.first
        else {
            Issue.record("expected the early body again")
            return
        }
        #expect(String(buffer: body) == "early")
    }

    @Test func aRetryAfterAResponseHeadDropsThatResponse() {
        var machine = self.connecting(replay: true)
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.retryAfterResponse(after: .zero, now: self.start) == true)
        #expect(machine.phase == .connecting)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 200, endStream: true) == .forward(endStream: true))
        #expect(machine.phase == .finished)
        #expect(machine.attempts == 2)
    }

    @Test func anEarlyResponseFinishesAndTheRestOfTheRequestIsDropped() {
        var machine = self.connecting()
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
        var machine = self.connecting()
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: true, now: self.start)
        _ = machine.responseHead(status: 200, endStream: false)
        guard case .abortDownstream = machine.upstreamFailed(ProxyError(.connectionReset, "cut"), retryAfter: .zero, now: self.start) else {
            Issue.record("expected the downstream to be cut")
            return
        }
    }

    @Test func informationalResponsesPassAndTheFinalOneFollows() {
        var machine = self.connecting(.init(responseTimeout: .seconds(1)))
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 100, endStream: false) == .forwardInformational)
        #expect(!machine.responseStarted)
        #expect(machine.responseDeadline != nil)
        #expect(machine.responseHead(status: 200, endStream: false) == .forward(endStream: false))
    }

    @Test func anUpgradeSwitchesOnlyWhenAskedFor() {
        var upgrade = self.connecting(upgrade: true)
        _ = upgrade.requestEnd(nil, now: self.start)
        _ = upgrade.upstreamReady(reused: false, now: self.start)
        #expect(upgrade.responseHead(status: 101, endStream: false) == .switchProtocols)
        #expect(upgrade.phase == .finished)

        var plain = self.connecting()
        _ = plain.requestEnd(nil, now: self.start)
        _ = plain.upstreamReady(reused: false, now: self.start)
        #expect(plain.responseHead(status: 101, endStream: false) == .ignore)
    }

    @Test func aTrailersOnlyResponseIsWholeInItsHead() {
        var machine = self.connecting()
        _ = machine.requestEnd(nil, now: self.start)
        _ = machine.upstreamReady(reused: false, now: self.start)
        #expect(machine.responseHead(status: 200, endStream: true) == .forward(endStream: true))
        #expect(machine.responseBody() == .drop)
        #expect(machine.phase == .finished)
    }

    @Test func theClientGoingAwayEndsEverything() {
        var machine = self.connecting()
        machine.downstreamClosed()
        #expect(machine.phase == .finished)
        guard case .release = machine.upstreamReady(reused: false, now: self.start) else {
            Issue.record("an upstream opened for nobody must be given back")
            return
        }
    }

    @Test func aStageThatAnswersEndsTheExchangeWithoutAnUpstream() {
        var machine = ExchangeStateMachine(configuration: .init())
        #expect(machine.requestBody(self.body("part")) == .hold(pause: false))
        let answered = machine.stageAnswered()
        #expect(answered)
        #expect(machine.phase == .draining, "the rest of the request is read and dropped")
        #expect(machine.requestEnd(nil, now: self.start) == .finish)
        guard case .release = machine.upstreamReady(reused: false, now: self.start) else {
            Issue.record("nothing goes upstream after a stage answered")
            return
        }
        let answeredAgain = machine.stageAnswered()
        #expect(!answeredAgain, "once only")
    }

    @Test func aSuspendedStageIsResumedAtItsDeadlineUnlessWokenFirst() {
        var machine = ExchangeStateMachine(configuration: .init())
        machine.stagesSuspended(until: self.at(50))
        #expect(machine.nextDeadline == self.at(50))
        guard case .none = machine.timerFired(now: self.at(49)), case .resumeStages = machine.timerFired(now: self.at(50)) else {
            Issue.record("expected the stages to resume at the deadline")
            return
        }
        let resumed = machine.stagesResumed()
        #expect(resumed)
        #expect(machine.nextDeadline == nil)
        machine.stagesPassed(replay: false)
        let resumedLate = machine.stagesResumed()
        #expect(!resumedLate, "a late wake-up finds the exchange past its stages")
    }

    @Test func theFirstAttemptWaitsForDiscoveryUntilItsDeadline() {
        var answered = ExchangeStateMachine(configuration: .init())
        answered.stagesPassed(replay: false, awaitingEndpointsUntil: self.at(3000))
        #expect(answered.nextDeadline == self.at(3000))
        let awaited = answered.endpointsAwaited()
        #expect(awaited)
        #expect(answered.phase == .connecting)
        let awaitedLate = answered.endpointsAwaited()
        #expect(!awaitedLate, "the timer, late, finds nothing to do")

        var unanswered = ExchangeStateMachine(configuration: .init())
        unanswered.stagesPassed(replay: false, awaitingEndpointsUntil: self.at(3000))
        guard case .attempt = unanswered.timerFired(now: self.at(3000)) else {
            Issue.record("expected the attempt to go without discovery")
            return
        }
        #expect(unanswered.phase == .connecting)
    }
}
