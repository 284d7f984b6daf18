import NIOCore
import ProxyCore
import Testing

@testable import ProxyHTTP

/// The HTTP/1.1 server connection's logic with a manual clock: keep-alive, pipelining, dropping the rest of a
/// request after an early response, the header-read timeout, quiescing, and how responses are framed.
@Suite struct HTTP1ServerStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ seconds: Int64) -> NIODeadline { self.start + .seconds(seconds) }
    func machine() -> HTTP1ServerStateMachine { HTTP1ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start) }

    @Test func aKeepAliveConnectionServesRequestsInTurnAndEachWaitsForAHeadUntilItsDeadline() {
        var machine = self.machine()
        #expect(machine.nextDeadline == self.at(10))
        machine.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect(machine.nextDeadline == nil, "no header-read deadline while an exchange runs")
        #expect({ machine.endReceived(now: self.at(1)) }() == .deliver)
        #expect(!machine.mayParse, "a pipelined request waits for the response before it")
        #expect(!machine.canRead(parserIsIdle: false) && machine.canRead(parserIsIdle: true))
        #expect({ machine.exchangeFinished(requestComplete: true, now: self.at(2)) }() == .next)
        #expect(machine.nextDeadline == self.at(12), "the next head's deadline counts from the end of the last exchange")
        #expect(machine.mayParse)
        #expect(!{ machine.timerFired(now: self.at(10)) }(), "the first deadline is past")
        #expect({ machine.timerFired(now: self.at(12)) }())
        #expect(machine.state == .closed)
    }

    @Test func aFullExchangeStopsParsingAndReadingUntilItDrains() {
        var machine = self.machine()
        machine.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        machine.requestPaused(true)
        #expect(!machine.mayParse && !machine.canRead(parserIsIdle: true))
        machine.requestPaused(false)
        #expect(machine.mayParse && machine.canRead(parserIsIdle: false))
    }

    @Test func anEarlyResponseDropsTheRestOfTheRequestThenTheConnectionGoesOn() {
        var machine = self.machine()
        machine.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect(machine.bodyReceived() == .deliver)
        #expect({ machine.exchangeFinished(requestComplete: false, now: self.at(1)) }() == .discard)
        #expect(machine.bodyReceived() == .drop && machine.mayParse && machine.canRead(parserIsIdle: false))
        #expect({ machine.endReceived(now: self.at(2)) }() == .drop)
        #expect(machine.nextDeadline == self.at(12))
    }

    @Test func aClientThatAsksToCloseIsClosedAfterItsResponse() {
        var machine = self.machine()
        machine.headReceived(version: .http1_1, isHEAD: false, keepAlive: false)
        #expect({ machine.responseHead(status: 200, endStream: false, hasContentLength: true) }().connection == .close)
        _ = machine.endReceived(now: self.start)
        #expect({ machine.exchangeFinished(requestComplete: true, now: self.start) }() == .close)
        // The same after an early response: the rest of the request is not worth reading.
        var early = self.machine()
        early.headReceived(version: .http1_1, isHEAD: false, keepAlive: false)
        #expect({ early.exchangeFinished(requestComplete: false, now: self.start) }() == .close)
    }

    @Test func responsesAreFramedForTheirRequest() {
        var chunked = self.machine()
        chunked.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ chunked.responseHead(status: 200, endStream: false, hasContentLength: false) }() == .init(chunked: true))
        #expect(chunked.responseChunked)
        #expect({ chunked.responseEnded() }(), "the last chunk is written")
        #expect(!{ chunked.responseEnded() }(), "once")

        var empty = self.machine()
        empty.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ empty.responseHead(status: 200, endStream: true, hasContentLength: false) }() == .init(contentLengthZero: true))

        var head = self.machine()
        head.headReceived(version: .http1_1, isHEAD: true, keepAlive: true)
        #expect(
            { head.responseHead(status: 200, endStream: false, hasContentLength: false) }() == .init(),
            "a HEAD response has no body to frame")

        var old = self.machine()
        old.headReceived(version: .http1_0, isHEAD: false, keepAlive: true)
        #expect(
            { old.responseHead(status: 200, endStream: false, hasContentLength: false) }() == .init(connection: .close),
            "HTTP/1.0: the body runs until the close")
        var oldKeptAlive = self.machine()
        oldKeptAlive.headReceived(version: .http1_0, isHEAD: false, keepAlive: true)
        #expect({ oldKeptAlive.responseHead(status: 200, endStream: false, hasContentLength: true) }() == .init(connection: .keepAlive))

        var upgraded = self.machine()
        upgraded.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ upgraded.responseHead(status: 101, endStream: false, hasContentLength: false) }() == .init())
    }

    @Test func quiescingClosesAnIdleConnectionAtOnceAndABusyOneAfterItsExchange() {
        var idle = self.machine()
        #expect({ idle.quiesce() }() == .close)

        var busy = self.machine()
        busy.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ busy.quiesce() }() == .none)
        #expect({ busy.responseHead(status: 200, endStream: true, hasContentLength: false) }().connection == .close, "the response says so")
        _ = busy.endReceived(now: self.start)
        #expect({ busy.exchangeFinished(requestComplete: true, now: self.start) }() == .close)

        var dropping = self.machine()
        dropping.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        _ = dropping.exchangeFinished(requestComplete: false, now: self.start)
        #expect({ dropping.quiesce() }() == .none)
        #expect({ dropping.endReceived(now: self.start) }() == .dropAndClose)
    }

    @Test func aHalfCloseCutsARequestInFlightButLetsAResponseFinish() {
        var cut = self.machine()
        cut.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ cut.inputClosed() }() == .abortExchangeAndClose)

        var answering = self.machine()
        answering.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        _ = answering.endReceived(now: self.start)
        #expect({ answering.inputClosed() }() == .none)
        #expect({ answering.exchangeFinished(requestComplete: true, now: self.start) }() == .close)

        var idle = self.machine()
        #expect({ idle.inputClosed() }() == .close)
    }

    @Test func malformedBytesAreAnsweredBetweenRequestsAndCutAnExchange() {
        var between = self.machine()
        #expect({ between.malformed() }() == .answerAndClose)
        var during = self.machine()
        during.headReceived(version: .http1_1, isHEAD: false, keepAlive: true)
        #expect({ during.malformed() }() == .abortExchangeAndClose)
    }
}
