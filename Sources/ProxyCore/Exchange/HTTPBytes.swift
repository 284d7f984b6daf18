#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte-level helpers of the HTTP/1 hot path, written over raw buffers so that parsing a head allocates nothing and
/// calls no generic collection code: newlines found with `memchr`, names compared against static strings, list
/// values walked in place.
enum HTTPBytes {
    /// The index of the first LF in `raw[from...]`, if any.
    @inline(__always)
    static func newline(in raw: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < raw.count, let base = raw.baseAddress else { return nil }
        guard let found = memchr(base + from, 0x0a, raw.count - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    /// ASCII case-insensitive equality of a name (or token) with a lower-case literal.
    @inline(__always)
    static func equal(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        let other = literal.utf8Start
        for index in 0..<count {
            let x = bytes[index]
            let y = other[index]
            if x != y {
                // Only letters differ by case: x | 0x20 equal to a lower-case letter y.
                guard x | 0x20 == y, y >= 0x61, y <= 0x7a else { return false }
            }
        }
        return true
    }

    /// ASCII case-insensitive equality of two byte runs.
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count {
            let x = a[index]
            let y = b[index]
            if x != y {
                guard x | 0x20 == y | 0x20, (x | 0x20) >= 0x61, (x | 0x20) <= 0x7a else { return false }
            }
        }
        return true
    }

    /// `bytes` without leading and trailing spaces and tabs.
    @inline(__always)
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Calls `body` with each element of a comma-separated list value, trimmed; empty elements included when
    /// `includingEmpty`. Stops early when `body` returns false.
    @inline(__always)
    static func forEachElement<Failure: Error>(
        _ value: UnsafeRawBufferPointer, includingEmpty: Bool = false, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Bool
    ) throws(Failure) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
            let element = Self.trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))
            if includingEmpty || !element.isEmpty {
                guard try body(element) else { return }
            }
            start = end + 1
        }
    }
}
