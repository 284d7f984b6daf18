import Foundation
import Synchronization

/// The demo's child processes, each logging to its own file; all stopped together.
final class ChildProcesses: Sendable {
    let logDirectory: String
    private let running = Mutex<[(name: String, process: Process)]>([])
    private let stopping = Atomic<Bool>(false)

    init(logDirectory: String) {
        self.logDirectory = logDirectory
    }

    func start(_ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        // Our own programs end with the demo even if it dies without cleaning up (see SwiftletCommand).
        env["SWIFTLET_EXIT_WITH_PARENT"] = "1"
        // Marks the demo's processes (tests look for them in /proc after the demo ends).
        env["SWIFTLET_DEMO_ID"] = String(getpid())
        process.environment = env
        let path = self.logDirectory + "/" + name + ".log"
        FileManager.default.createFile(atPath: path, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.running.withLock { $0.append((name, process)) }
    }

    /// The name of a child that died on its own, if any.
    func exited() -> String? {
        guard !self.stopping.load(ordering: .relaxed) else { return nil }
        return self.running.withLock { $0.first { !$0.process.isRunning }?.name }
    }

    /// Waits until `host:port` accepts connections (the child is up), or fails after 60 s.
    func waitForPort(_ port: Int, host: String = "127.0.0.1", of name: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if Self.accepts(port, host: host) { return }
            if let dead = self.exited() { throw DemoError("\(dead) exited; see \(self.logDirectory)/\(dead).log") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DemoError("\(name) did not listen on \(port) within 60 s; see \(self.logDirectory)/\(name).log")
    }

    /// Waits until the proxy whose admin server is `host:port` answers `/ready` with 200 (listening and, with an
    /// identity, certified), or fails after 60 s.
    func waitForReady(_ port: Int, host: String, of name: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        let client = DemoHTTPClient(host: host, port: port)
        while ContinuousClock.now < deadline {
            if let response = try? await client.request(.GET, authority: "\(host):\(port)", path: "/ready"), response.status == 200 {
                return
            }
            if let dead = self.exited() { throw DemoError("\(dead) exited; see \(self.logDirectory)/\(dead).log") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DemoError("\(name) was not ready within 60 s; see \(self.logDirectory)/\(name).log")
    }

    static func accepts(_ port: Int, host: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// SIGTERM to every child (the load generator first), SIGKILL to any still running after five seconds.
    func stopAll() {
        self.stopping.store(true, ordering: .relaxed)
        let children = self.running.withLock { $0 }
        let pids = children.map(\.process.processIdentifier)
        for pid in pids.reversed() where !Self.hasExited(pid) { kill(pid, SIGTERM) }
        Self.waitForExit(pids, seconds: 5)
        for pid in pids where !Self.hasExited(pid) { kill(pid, SIGKILL) }
        Self.waitForExit(pids, seconds: 5)
    }

    /// Whether `pid` ended, read from /proc (gone, or a zombie not yet reaped). Foundation's `isRunning` and
    /// `waitUntilExit` depend on its child-exit notification, which under load was seen never to arrive: the demo
    /// then waited for ever for children that were long dead.
    static func hasExited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // `pid (comm) state ...`: the state follows the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state == "Z" || state == "X"
    }

    static func waitForExit(_ pids: [Int32], seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while pids.contains(where: { !Self.hasExited($0) }), Date() < deadline { usleep(20_000) }
    }
}
