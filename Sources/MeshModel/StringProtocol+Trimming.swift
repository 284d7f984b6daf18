extension StringProtocol {
    /// Without leading and trailing spaces and tabs: what configuration values and comma-separated lists allow
    /// around their items.
    package func trimmingASCIISpaces() -> SubSequence {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
