import Foundation

/// The demo's screen: a fixed header (what runs, where its files are, how to reach it and stop it, a clock, the
/// latest event) above the live table. On a terminal each frame is redrawn in place (cursor home, lines cleared to
/// their end) and fitted to its width; piped, each frame follows a separator line and holds no escape codes.
struct DemoScreen {
    var title: String
    /// `label  text` lines under the title.
    var lines: [(label: String, text: String)]
    let isTerminal: Bool
    let width: Int

    init(title: String, lines: [(label: String, text: String)], isTerminal: Bool = isatty(1) == 1) {
        self.title = title
        self.lines = lines
        self.isTerminal = isTerminal
        self.width = isTerminal ? Self.terminalWidth() : 80
    }

    /// One frame: the header with `clock` and `event`, then `table`.
    func frame(clock: String, event: String?, table: String) -> String {
        var header = [Self.fit(self.title, clock: clock, width: self.width)]
        for (label, text) in self.lines + (event.map { [("event", $0)] } ?? []) {
            header += Self.wrap(
                text, first: "  " + label.padding(toLength: 10, withPad: " ", startingAt: 0), indent: 12, width: self.width,
                cutting: self.isTerminal)
        }
        let body = header + [""] + table.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.prefix(self.width)) }
        guard self.isTerminal else {
            return "--- \(clock) " + String(repeating: "-", count: max(self.width - clock.count - 5, 3)) + "\n"
                + body.joined(separator: "\n")
        }
        // Home, each line cleared to its end, and the rest of the screen cleared: no flicker, nothing left over.
        return "\u{1B}[H" + body.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J"
    }

    /// The title with the clock at the right edge.
    static func fit(_ title: String, clock: String, width: Int) -> String {
        let room = width - clock.count - 1
        let shown = title.count > room ? String(title.prefix(max(room - 1, 0))) + "…" : title
        return shown + String(repeating: " ", count: max(width - shown.count - clock.count, 1)) + clock
    }

    /// `text` after `first`, broken at spaces into lines of `width` at most, the lines after the first indented by
    /// `indent`; a word longer than a line is cut with `…` when `cutting` (a terminal, where a longer line would wrap
    /// and scroll the frame) and kept whole otherwise (piped into a log, a path must stay whole to be copied).
    static func wrap(_ text: String, first: String, indent: Int, width: Int, cutting: Bool = true) -> [String] {
        var lines: [String] = []
        var current = first
        var empty = true
        for word in text.split(separator: " ") {
            if !empty, current.count + 1 + word.count > width {
                lines.append(current)
                current = String(repeating: " ", count: indent)
                empty = true
            }
            current += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(current)
        guard cutting else { return lines }
        return lines.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 40 else { return 80 }
        return Int(size.ws_col)
    }

    /// `hh:mm:ss (m:ss)`: the time of day and how long the demo has run.
    static func clock(since started: ContinuousClock.Instant) -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        let elapsed = Int((ContinuousClock.now - started).components.seconds)
        return String(format: "%02d:%02d:%02d  up %d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec, elapsed / 60, elapsed % 60)
    }
}
