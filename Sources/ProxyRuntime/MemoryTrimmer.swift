#if canImport(Glibc)
    import Glibc
#endif

/// Gives back to the system the memory that connections held once they are gone.
///
/// Thousands of connections opened and closed again (a burst of clients, idle keep-alives, a slow-loris attempt)
/// leave their freed memory in malloc's arenas, where it stays resident: 6,000 connections kept a proxy at twice its
/// idle RSS long after they closed. When the open connections fall well below the most seen since the last look,
/// `malloc_trim` returns the free pages; and once such a fall has come to rest below the last trim, one more trim
/// returns what the last connections to close held (a fall spread over several seconds otherwise left their memory
/// behind). Checked once a second; a trim runs off the event loops and costs a few milliseconds.
struct MemoryTrimmer {
    /// A fall of this many connections from the high-water mark is worth a trim.
    static let fall = 256

    let drainers: [ConnectionDrainer]

    /// The connections open now, and whether they fell enough from the most seen since the last trim (a slow fall
    /// counts too).
    func look() -> (open: Int, fell: Bool) {
        let marks = self.drainers.map(\.highWater)
        let open = marks.reduce(0) { $0 + $1.now }
        return (open, marks.reduce(0) { $0 + $1.high } - open >= Self.fall)
    }

    /// What a check decides, from the connections open now and at the previous check.
    struct Settling {
        /// Connections open at the last trim made for a fall, while that fall goes on.
        var trimmedAt: Int?
        var previous = 0

        /// `fell`: the fall since the high-water mark is worth a trim. Returns whether to trim.
        mutating func check(open: Int, fell: Bool) -> Bool {
            defer { self.previous = open }
            if fell {
                self.trimmedAt = open
                return true
            }
            guard let trimmedAt = self.trimmedAt else { return false }
            if open > trimmedAt {
                self.trimmedAt = nil  // connections are coming again: the fall is over
                return false
            }
            if open < trimmedAt && open == self.previous {
                self.trimmedAt = nil  // the fall came to rest below the last trim
                return true
            }
            return false
        }
    }

    /// Checks every second until cancelled; after a trim the marks restart from the connections open then.
    func run() async {
        var settling = Settling()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let (open, fell) = self.look()
            guard settling.check(open: open, fell: fell) else { continue }
            Self.trim()
            for drainer in self.drainers { drainer.resetHighWater() }
        }
    }

    static func trim() {
        #if canImport(Glibc)
            _ = glibcMallocTrim(0)
        #endif
    }
}

#if canImport(Glibc)
    /// `malloc_trim` from <malloc.h>, which the Glibc module does not export.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
