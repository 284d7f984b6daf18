import NIOCore
import NIOHTTP2
import Testing

@testable import ProxyHTTP

/// The HTTP/2 server connection's logic with a manual clock: the wait for a first stream, and quiescing.
@Suite struct HTTP2ServerStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ seconds: Int64) -> NIODeadline { self.start + .seconds(seconds) }

    @Test func aConnectionWithoutAStreamWithinTheHeaderReadTimeoutGoesAway() {
        var machine = HTTP2ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start)
        #expect(machine.nextDeadline == self.at(10))
        #expect({ machine.timerFired(now: self.at(9)) }() == .none)
        #expect({ machine.timerFired(now: self.at(10)) }() == .goAway(lastStreamID: .rootStream, close: true))
        #expect(machine.state == .closed)
    }

    @Test func aFirstStreamEndsTheWaitAndAnIdleConnectionThenStays() {
        var machine = HTTP2ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start)
        machine.streamOpened(1)
        #expect(machine.nextDeadline == nil)
        #expect({ machine.timerFired(now: self.at(10)) }() == .none)
        #expect({ machine.streamClosed(openStreams: 0) }() == .none, "a gRPC channel stays open between calls")
    }

    @Test func quiescingNamesTheLastStreamAndClosesWhenTheOpenOnesAreDone() {
        var machine = HTTP2ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start)
        machine.streamOpened(1)
        machine.streamOpened(5)
        machine.streamOpened(3)
        #expect({ machine.quiesce(openStreams: 2) }() == .goAway(lastStreamID: 5, close: false))
        #expect({ machine.quiesce(openStreams: 2) }() == .none, "once")
        machine.streamOpened(7)
        #expect({ machine.streamClosed(openStreams: 2) }() == .none)
        #expect({ machine.streamClosed(openStreams: 0) }() == .close)

        var idle = HTTP2ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start)
        idle.streamOpened(1)
        #expect({ idle.quiesce(openStreams: 0) }() == .goAway(lastStreamID: 1, close: true))

        var fresh = HTTP2ServerStateMachine(headerReadTimeout: .seconds(10), now: self.start)
        #expect({ fresh.quiesce(openStreams: 0) }() == .goAway(lastStreamID: .rootStream, close: true))
    }
}
