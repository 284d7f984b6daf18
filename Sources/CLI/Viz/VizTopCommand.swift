import ArgumentParser
import Controller
import Foundation
import SwiftletAPI
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftlet viz top`: the target's live requests as a table refreshed in place — the busiest paths first.
struct VizTopCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live table of the requests through a resource's proxies, grouped by source, destination and path.",
        discussion: """
            Refreshed every second in place, full screen (80x24 holds it; wider shows more of each path); sorted by count. \
            q or Ctrl-C quits. Takes tap's target and filters.
            """
    )

    @OptionGroup var options: TapOptions

    func execute() async throws {
        let request = try self.options.request(headers: false)
        let endpoint = try self.options.endpoint()
        let title = "swiftlet viz top " + self.options.target.joined(separator: " ") + " -n \(self.options.namespace)"
        try await withGracefulShutdownOnSignals {
            let screen = TopScreen(interactive: isatty(1) == 1 && isatty(0) == 1)
            screen.enter()
            defer { screen.leave() }
            let table = SharedTopTable()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await TapAPIClient.stream(request, endpoint: endpoint, untilCancelled: true) { event in
                        if let notice = TapEventLine.notice(event) {
                            table.state.withLock { $0.notice = notice }
                        } else {
                            table.state.withLock { $0.table.add(event) }
                        }
                    }
                    table.state.withLock { $0.notice = "the tap ended" }
                    // The last frame stays until the user quits.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                group.addTask {
                    while !Task.isCancelled {
                        let (rows, notice) = table.state.withLock { ($0.table, $0.notice) }
                        screen.draw(title: title, table: rows, notice: notice)
                        try await Task.sleep(for: .seconds(1))
                    }
                }
                if screen.interactive {
                    group.addTask { await screen.waitForQuitKey() }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// The table and the last notice, shared by the reader and the painter.
final class SharedTopTable: Sendable {
    struct State {
        var table = TopTable()
        var notice: String?
    }
    let state = Mutex(State())
}

/// The terminal `top` paints on: the alternate screen with the cursor hidden and keys read one at a time, restored on
/// the way out; piped, a frame after another.
final class TopScreen: Sendable {
    let interactive: Bool
    private let saved = Mutex<termios?>(nil)

    init(interactive: Bool) {
        self.interactive = interactive
    }

    func enter() {
        guard self.interactive else { return }
        var settings = termios()
        if tcgetattr(0, &settings) == 0 {
            self.saved.withLock { $0 = settings }
            var raw = settings
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            _ = tcsetattr(0, TCSANOW, &raw)
        }
        Self.write("\u{1B}[?1049h\u{1B}[?25l")
    }

    func leave() {
        guard self.interactive else { return }
        Self.write("\u{1B}[?25h\u{1B}[?1049l")
        if var settings = self.saved.withLock({ $0 }) { _ = tcsetattr(0, TCSANOW, &settings) }
    }

    func draw(title: String, table: TopTable, notice: String?) {
        let (width, height) = Self.size()
        let requests = table.rows.values.reduce(0) { $0 + $1.count }
        let head = "\(title)  (\(requests) requests; q quits)"
        var lines = [String(head.prefix(width)), ""] + table.lines(width: width, height: height - 3)
        if let notice { lines.append(String(notice.prefix(width))) }
        if self.interactive {
            Self.write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
        } else {
            Self.write(lines.joined(separator: "\n") + "\n\n")
        }
    }

    /// Returns when `q` is pressed (or standard input closes).
    func waitForQuitKey() async {
        while !Task.isCancelled {
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready > 0 {
                var byte: UInt8 = 0
                guard read(0, &byte, 1) == 1 else { return }
                if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") { return }
            } else {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func size() -> (width: Int, height: Int) {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20, size.ws_row >= 5 else { return (80, 24) }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
