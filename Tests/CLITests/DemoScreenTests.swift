import Testing

@testable import Demo

/// The demo's header as a newcomer reads it: on a terminal each line fits the width; piped into a log, a long path
/// stays whole so it can be copied (CI's checkout, deeper than a developer's, once cut the proxy's path in two).
@Suite struct DemoScreenTests {
    static let path = "/check/work/main/.build/x86_64-unknown-linux-gnu/debug/swiftlet-proxy-with-a-long-name/swiftlet-proxy"

    @Test func pipedFramesKeepALongPathWhole() {
        let screen = DemoScreen(title: "swiftlet demo", lines: [("proxy", Self.path)], isTerminal: false)
        let frame = screen.frame(clock: "12:00:00  up 0:01", event: nil, table: "")
        let proxy = frame.split(separator: "\n").first { $0.hasPrefix("  proxy ") }
        #expect(proxy == "  proxy     " + Self.path[...])
    }

    @Test func terminalLinesAreCutToTheWidth() {
        let lines = DemoScreen.wrap(Self.path, first: "  proxy     ", indent: 12, width: 80)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines)")
        #expect(lines.last?.hasSuffix("…") == true)
    }

    @Test func wordsWrapAtSpacesUnderTheIndent() {
        let lines = DemoScreen.wrap("one two three four", first: "  label     ", indent: 12, width: 24)
        #expect(lines == ["  label     one two", "            three four"])
    }
}
