import ProxyTap
import Testing

/// One tap's limit, rate and bounded queue, with a manual clock.
@Suite struct TapStreamStateTests {
    static let second: Int64 = 1_000_000_000

    @Test func theLimitCountsRequestsAndTheStreamEndsWhenTheyHave() {
        var state = TapStreamState<String>(limit: 2, maxPerSecond: 0, capacity: 10)
        let taken = [state.admit(now: 0), state.admit(now: 0), state.admit(now: 0)]
        #expect(taken == [true, true, false], "a third request is not taken")
        #expect(!state.isComplete, "two requests are still open")
        state.ended()
        state.ended()
        #expect(state.isComplete)
    }

    @Test func maxRPSIsPerOneSecondWindow() {
        var state = TapStreamState<String>(limit: 100, maxPerSecond: 2, capacity: 10)
        let taken = [
            state.admit(now: 0), state.admit(now: Self.second / 2), state.admit(now: Self.second - 1), state.admit(now: Self.second),
        ]
        #expect(taken == [true, true, false, true], "two in the first second, then a new window")
        #expect(state.remaining == 97)
    }

    @Test func aFullQueueDropsCountsAndSaysSoBeforeTheNextEvent() {
        var state = TapStreamState<String>(limit: 100, maxPerSecond: 0, capacity: 3)
        let dropped: (Int) -> String = { "dropped \($0)" }
        let results = ["a", "b", "c", "d", "e"].map { state.enqueue($0, dropped: dropped) }
        #expect(results == [.wake, .queued, .queued, .dropped, .dropped])
        let first = state.drain()
        #expect(first == ["a", "b", "c"])
        let next = state.enqueue("f", dropped: dropped)
        #expect(next == .wake)
        let second = state.drain()
        #expect(second == ["dropped 2", "f"], "the reader learns of the two it missed, in place")
        #expect(state.droppedTotal == 2 && state.droppedPending == 0)
    }

    @Test func aCancelledStreamTakesNothing() {
        var state = TapStreamState<String>(limit: 5, maxPerSecond: 0, capacity: 3)
        state.cancel()
        let taken = state.admit(now: 0)
        let queued = state.enqueue("a", dropped: { "\($0)" })
        #expect(!taken && queued == .dropped)
    }
}
