import Foundation

/// A program the controller runs beside itself (local mode's Prometheus): its output to a log file, and gone with
/// the controller — stopped on shutdown, and, where util-linux's `setpriv` exists, sent SIGTERM by the kernel if the
/// controller dies without stopping it (`--pdeathsig`), so a killed controller leaves no Prometheus behind.
final class ManagedProcess: Sendable {
    let name: String
    let log: String
    private let pid: Int32

    /// Starts `executable` with `arguments`; fails with the reason when it cannot be run.
    init(name: String, executable: String, arguments: [String], log: String) throws {
        let process = Process()
        let guardian = "/usr/bin/setpriv"
        if FileManager.default.isExecutableFile(atPath: guardian) {
            process.executableURL = URL(fileURLWithPath: guardian)
            process.arguments = ["--pdeathsig", "TERM", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.name = name
        self.log = log
        self.pid = process.processIdentifier
    }

    /// Whether it ended, read from /proc (gone, or a zombie): Foundation's own exit notification was seen never to
    /// arrive under load (see the demo's ChildProcesses).
    var hasExited: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(self.pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: end)...].first { $0 != " " }
        return state == "Z" || state == "X"
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` seconds.
    func stop(grace: Double = 5) {
        guard !self.hasExited else { return }
        kill(self.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while !self.hasExited, Date() < deadline { usleep(20_000) }
        if !self.hasExited { kill(self.pid, SIGKILL) }
    }
}
