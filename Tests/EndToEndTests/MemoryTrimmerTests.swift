import Testing

@testable import ProxyRuntime

/// When the trimmer trims: on a large fall, and once more when a fall comes to rest below the last trim.
@Suite struct MemoryTrimmerTests {
    @Test func aFallSpreadOverSecondsIsTrimmedAgainOnceItComesToRest() {
        var settling = MemoryTrimmer.Settling()
        // Connections open at each check, and whether the fall since the high-water mark was worth a trim.
        let checks: [(open: Int, fell: Bool, trims: Bool)] = [
            (6000, false, false),
            (5600, true, true),  // a large fall
            (5500, false, false),  // still falling: not yet
            (5400, false, false),
            (5400, false, true),  // at rest below the last trim: the memory of the last hundreds goes back too
            (5400, false, false),  // once
            (5300, false, false),  // a later small fall is not worth one
            (5300, false, false),
        ]
        for (index, check) in checks.enumerated() {
            let trims = settling.check(open: check.open, fell: check.fell)
            #expect(trims == check.trims, "check \(index)")
        }
    }

    @Test func connectionsComingAgainEndTheFall() {
        var settling = MemoryTrimmer.Settling()
        let decisions = [(1000, true), (1200, false), (900, false), (900, false)].map { settling.check(open: $0.0, fell: $0.1) }
        // Trimmed for the fall; then connections rose again, which ended it: no trim when they fell back and rested.
        #expect(decisions == [true, false, false, false])
    }
}
