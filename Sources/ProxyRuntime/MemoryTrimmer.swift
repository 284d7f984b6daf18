#if canImport(Glibc)
import Glibc
#endif

/// Gives back to the system the memory that connections held once they are gone.
///
/// Thousands of connections opened and closed again (a burst of clients, idle keep-alives, a slow-loris attempt)
/// leave their freed memory in malloc's arenas, where it stays resident: 6,000 connections kept a proxy at twice its
/// idle RSS long after they closed. When the open connections fall well below the most seen since the last look,
/// `malloc_trim` returns the free pages. Checked once a second; a trim runs off the event loops, only after such a
/// fall, and costs a few milliseconds.
struct MemoryTrimmer {
    /// A fall of this many connections from the high-water mark is worth a trim.
    static let fall = 256

    let drainers: [ConnectionDrainer]

    /// Whether the connections fell enough from the most seen since the last trim (a slow fall counts too).
    func shouldTrim() -> Bool {
        let marks = self.drainers.map(\.highWater)
        return marks.reduce(0) { $0 + $1.high } - marks.reduce(0) { $0 + $1.now } >= Self.fall
    }

    /// Checks every second until cancelled; after a trim the marks restart from the connections open then.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard self.shouldTrim() else { continue }
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
