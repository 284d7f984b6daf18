import NIOCore
import ProxyGRPC
import ProxyTap
import Testing

/// One tap's limit, rate and bounded queue, with a manual clock.
@Suite struct TapStreamStateTests {
    static let second: Int64 = 1_000_000_000

    @Test func theLimitCountsRequestsAndTheStreamEndsWhenTheyHave() {
        var state = TapStreamState(limit: 2, maxPerSecond: 0, capacity: 10)
        let taken = [state.admit(now: 0), state.admit(now: 0), state.admit(now: 0)]
        #expect(taken == [true, true, false], "a third request is not taken")
        #expect(!state.isComplete, "two requests are still open")
        state.ended()
        state.ended()
        #expect(state.isComplete)
    }

    @Test func maxRPSIsPerOneSecondWindow() {
        var state = TapStreamState(limit: 100, maxPerSecond: 2, capacity: 10)
        let taken = [
            state.admit(now: 0), state.admit(now: Self.second / 2), state.admit(now: Self.second - 1), state.admit(now: Self.second),
        ]
        #expect(taken == [true, true, false, true], "two in the first second, then a new window")
        #expect(state.remaining == 97)
    }

    /// An event that is its text, so the queue's bytes read back as what was queued.
    struct Text: TapEventMessage {
        let text: String
        var size: Int { self.text.utf8.count }
        func write(to cursor: inout ProtobufCursor) { cursor.raw(Array(self.text.utf8)) }
    }

    static func enqueue(_ text: String, into state: inout TapStreamState) -> TapStreamState.Enqueued {
        state.enqueue(Text(text: text))
    }

    /// The queue's gRPC messages (a flag byte, a big-endian length, the message), as text.
    static func messages(_ buffer: ByteBuffer) -> [String] {
        var messages: [String] = []
        var rest = Array(buffer.readableBytesView)[...]
        while rest.count >= 5 {
            let flag = rest.first
            let length = rest.dropFirst().prefix(4).reduce(0) { $0 << 8 | Int($1) }
            guard flag == 0, rest.count >= 5 + length else { return messages + ["malformed"] }
            messages.append(String(decoding: rest.dropFirst(5).prefix(length), as: UTF8.self))
            rest = rest.dropFirst(5 + length)
        }
        return rest.isEmpty ? messages : messages + ["trailing bytes"]
    }

    @Test func aFullQueueDropsCountsAndSaysSoBeforeTheNextEvent() {
        var state = TapStreamState(limit: 100, maxPerSecond: 0, capacity: 3)
        let results = ["a", "b", "c", "d", "e"].map { Self.enqueue($0, into: &state) }
        #expect(results == [.wake, .queued, .queued, .dropped, .dropped])
        let first = Self.messages(state.drain())
        #expect(first == ["a", "b", "c"])
        let next = Self.enqueue("f", into: &state)
        #expect(next == .wake)
        let second = Self.messages(state.drain())
        let dropped = String(decoding: TapEventEncoder.Dropped(2).bytes, as: UTF8.self)
        #expect(second == [dropped, "f"], "the reader learns of the two it missed (a Dropped event), in place")
        #expect(state.droppedTotal == 2 && state.droppedPending == 0)
    }

    @Test func aMessageOfMoreThanAByteOfLengthIsFramedWhole() {
        var state = TapStreamState(limit: 100, maxPerSecond: 0, capacity: 3)
        let long = String(repeating: "x", count: 70_000)
        _ = Self.enqueue(long, into: &state)
        _ = Self.enqueue("y", into: &state)
        #expect(Self.messages(state.drain()) == [long, "y"])
    }

    @Test func aCancelledStreamTakesNothing() {
        var state = TapStreamState(limit: 5, maxPerSecond: 0, capacity: 3)
        state.cancel()
        let taken = state.admit(now: 0)
        let queued = Self.enqueue("a", into: &state)
        #expect(!taken && queued == .dropped)
    }
}
