import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Facts about the test environment, and the rule for tools that are missing: skip locally, fail under CI
/// (`SWIFTLET_E2E=required`).
enum E2E {
    static let required = ProcessInfo.processInfo.environment["SWIFTLET_E2E"] == "required"

    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    static var proxyBinary: String {
        for candidate in [".build/debug/swiftlet-proxy", ".build/release/swiftlet-proxy"] {
            let path = packageRoot.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/swiftlet-proxy").path
    }

    /// The venv made by scripts/install-test-deps (it has grpcio), else the system Python.
    static var python: String {
        let venv = packageRoot.appendingPathComponent(".venv-test/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : (which("python3") ?? "python3")
    }

    static func which(_ tool: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for directory in paths.split(separator: ":") {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static var isRoot: Bool { getuid() == 0 }

    static var hasGRPC: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import grpc"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// For `.enabled(if:)`: true when the tools exist, and always true under CI so a missing tool fails the test.
    static func available(_ tools: String...) -> Bool {
        required || tools.allSatisfy { which($0) != nil }
    }

    /// Inside a test: fail clearly if a tool is missing (reached only under CI, or when a check was skipped).
    static func need(_ tools: String...) throws {
        let missing = tools.filter { which($0) == nil }
        if !missing.isEmpty { throw HarnessError("missing tools: \(missing.joined(separator: ", ")) (run scripts/install-test-deps)") }
    }

    /// A port for a peer to bind a moment later, chosen below the kernel's ephemeral range (as the demo does): a
    /// port from that range may meanwhile become the local port of an outgoing connection of a parallel test.
    static func freePort() -> Int {
        let ephemeral =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let upper = max(ephemeral, 11_000)
        while true {
            let port = Int.random(in: 10_000..<upper)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if bound { return port }
        }
    }

    private static let handedOut = Mutex<Set<Int>>([])

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose output lines can be awaited.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var output = ""
    private var waiters: [(@Sendable (Substring) -> Bool, CheckedContinuation<String, Error>)] = []
    private let input = Pipe()
    let name: String
    private let exited: ExitLatch
    /// Opens when the output pipe reached EOF: the exit can be seen before the last bytes were read.
    private let outputEnded = ExitLatch()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], name: String? = nil) throws {
        self.name = name ?? URL(fileURLWithPath: executable).lastPathComponent
        self.process.executableURL = URL(fileURLWithPath: executable)
        self.process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        self.process.environment = env
        let pipe = Pipe()
        self.process.standardInput = self.input
        self.process.standardOutput = pipe
        self.process.standardError = pipe
        let exited = ExitLatch()
        self.exited = exited
        self.process.terminationHandler = { _ in exited.open() }
        try self.process.run()
        // A thread of its own reads the output with blocking reads until EOF. (Foundation's `readabilityHandler`
        // is a dispatch read source per child; with dozens of children coming and going in one test run, one of
        // them crashed the test process inside libdispatch's event loop.)
        let reader = pipe.fileHandleForReading
        let outputEnded = self.outputEnded
        Thread { [weak self] in
            while true {
                let data = reader.availableData
                guard let self else { return }
                if data.isEmpty {
                    outputEnded.open()
                    self.fail(HarnessError("\(self.name) exited; output:\n\(self.text)"))
                    return
                }
                self.append(String(decoding: data, as: UTF8.self))
            }
        }.start()
    }

    var text: String { self.lock.withLock { self.output } }
    var pid: Int32 { self.process.processIdentifier }

    private func append(_ chunk: String) {
        let ready: [(CheckedContinuation<String, Error>, String)] = self.lock.withLock {
            self.output += chunk
            var matched: [(CheckedContinuation<String, Error>, String)] = []
            self.waiters.removeAll { matches, continuation in
                guard let line = Self.line(where: matches, in: self.output) else { return false }
                matched.append((continuation, line))
                return true
            }
            return matched
        }
        for (continuation, line) in ready { continuation.resume(returning: line) }
    }

    private func fail(_ error: Error) {
        let waiting = self.lock.withLock { () -> [(@Sendable (Substring) -> Bool, CheckedContinuation<String, Error>)] in
            defer { self.waiters = [] }
            return self.waiters
        }
        for (_, continuation) in waiting { continuation.resume(throwing: error) }
    }

    /// The first complete (newline-terminated) line containing `needle`: a line still being written does not count.
    static func line(containing needle: String, in text: String) -> String? {
        Self.line(where: { $0.contains(needle) }, in: text)
    }

    static func line(where matches: (Substring) -> Bool, in text: String) -> String? {
        guard let end = text.lastIndex(of: "\n") else { return nil }
        return text[..<end].split(separator: "\n").first(where: matches).map(String.init)
    }

    /// Writes a line to the child's standard input.
    func sendLine(_ line: String) {
        try? self.input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Closes the child's standard input (fixtures that run "until stdin closes" then finish).
    func closeInput() {
        try? self.input.fileHandleForWriting.close()
    }

    /// Waits until a line of output contains `needle` (or the process ends, or `timeout` passes).
    func waitForLine(containing needle: String, timeout: Duration = .seconds(60)) async throws -> String {
        try await self.waitForLine(where: { $0.contains(needle) }, describedAs: needle, timeout: timeout)
    }

    /// Waits until a line of output satisfies `matches`.
    func waitForLine(
        where matches: @escaping @Sendable (Substring) -> Bool, describedAs needle: String, timeout: Duration = .seconds(60)
    ) async throws -> String {
        try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let immediate: String? = self.lock.withLock {
                        if let line = Self.line(where: matches, in: self.output) { return line }
                        if !self.process.isRunning { return nil }
                        self.waiters.append((matches, continuation))
                        return ""
                    }
                    if let immediate, !immediate.isEmpty {
                        continuation.resume(returning: immediate)
                    } else if immediate == nil {
                        continuation.resume(throwing: HarnessError("\(self.name) is not running; output:\n\(self.text)"))
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw HarnessError("timed out waiting for '\(needle)' from \(self.name); output:\n\(self.text)")
            }
            defer {
                group.cancelAll()
                // A continuation does not notice cancellation: resume it so the group can end.
                self.fail(CancellationError())
            }
            return try await group.next()!
        }
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let exited = self.exited
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await exited.wait() }
            group.addTask {
                try await Task.sleep(for: timeout)
                // Kill it so the waiting child can finish, then report the failure.
                self.stop()
                throw HarnessError("\(self.name) did not exit in time; output:\n\(self.text)")
            }
            try await group.next()
            group.cancelAll()
        }
        // The status is known; the output may still be in the pipe. Wait for its end (bounded: a grandchild that
        // kept the pipe open would hold it for ever), so `text` holds everything the process wrote.
        let outputEnded = self.outputEnded
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await outputEnded.wait() }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                outputEnded.open()
            }
            await group.next()
            group.cancelAll()
        }
        return self.process.terminationStatus
    }

    func signal(_ signal: Int32) {
        if self.process.isRunning { kill(self.process.processIdentifier, signal) }
    }

    /// The signal `stop()` sends: SIGKILL by default (a test that needs a graceful stop asks for it); nginx needs
    /// SIGTERM so its master takes its workers down with it.
    var stopSignal: Int32 = SIGKILL

    /// Ends the process without waiting (cleanup).
    func stop() {
        if self.process.isRunning { kill(self.process.processIdentifier, self.stopSignal) }
    }

    deinit { self.stop() }
}

/// Runs a command to completion without blocking the test's thread.
@discardableResult
/// Runs a command to its end and returns its status and its output (stdout and stderr together).
///
/// Spawned with `posix_spawn` and reaped with `waitpid`, not with `Foundation.Process`: Process learns that a child
/// ended when a socket it hands the child closes, and a child that starts a daemon (`tmux new-session` starts the
/// tmux server) hands the socket on, so Process waits for the daemon instead (swift-corelibs-foundation #4795; a CI
/// run hung on it). The child gets no descriptor but its three. A command still running after `timeout` is killed
/// and the call throws with what it printed, so a hang is a failure that says where, not a stalled run.
func run(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil,
    timeout: Duration = .seconds(180)
) async throws -> (status: Int32, output: String) {
    let path = E2E.which(executable) ?? executable
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)").path
    defer { unlink(outputPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var inputPipe: [Int32] = [-1, -1]
    if input != nil {
        guard pipe(&inputPipe) == 0 else { throw RunFailure("pipe: errno \(errno)") }
        for end in inputPipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    guard let closeFrom = SpawnCloseFrom.function else { throw RunFailure("this libc has no posix_spawn_file_actions_addclosefrom_np") }
    _ = closeFrom(&actions, 3)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    var spawnedPID: pid_t = 0
    let spawned = posix_spawn(&spawnedPID, path, &actions, nil, argv, envp)
    let pid = spawnedPID
    if let input {
        close(inputPipe[0])
        if spawned == 0 {
            input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(inputPipe[1], bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { break }
                    offset += written
                }
            }
        }
        close(inputPipe[1])
    }
    guard spawned == 0 else { throw RunFailure("\(executable): cannot be started (\(String(cString: strerror(spawned))))") }
    let exited = ExitLatch()
    let waitStatus = Mutex<Int32>(0)
    Thread.detachNewThread {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        waitStatus.withLock { $0 = status }
        exited.open()
    }
    let timedOut = await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await exited.wait()
            return false
        }
        group.addTask {
            guard (try? await Task.sleep(for: timeout)) != nil else { return false }
            kill(pid, SIGKILL)
            return true
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
    // Decoded leniently: a tool's output may hold bytes that are not UTF-8 (openssl s_client's session dump), and
    // a strict decoding would lose all of it.
    let output = FileManager.default.contents(atPath: outputPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
    if timedOut {
        throw RunFailure("\(([executable] + arguments).joined(separator: " ")) did not end within \(timeout); it printed: \(output)")
    }
    let status = waitStatus.withLock { $0 }
    // As Foundation.Process's terminationStatus: the exit code, or the signal that ended it.
    return (status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f, output)
}

/// glibc's (2.34+) `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not declare (a GNU
/// extension).
enum SpawnCloseFrom {
    typealias Function = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    static let function: Function? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: Function.self)
    }
}

/// A command that could not be run, or did not end in time.
struct RunFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

/// Opens once, when a process has exited; waiting is not cut short by task cancellation, so a status is only read
/// from a process that really ended.
final class ExitLatch: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        let waiting: [CheckedContinuation<Void, Never>] = self.lock.withLock {
            self.isOpen = true
            defer { self.waiters = [] }
            return self.waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = self.lock.withLock {
                if self.isOpen { return true }
                self.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// Sends `request` bytes on one TCP connection and returns every byte the server sent until it closed, with the
/// closing noted (Python, so the exchange is byte-exact and independent of any HTTP client's habits).
func rawExchange(port: Int, _ request: String) async throws -> String {
    let literal = request.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\r", with: "\\r")
        .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\"", with: "\\\"")
    let script = """
        import socket, sys
        s = socket.create_connection(("127.0.0.1", \(port)), timeout=20)
        s.sendall(b"\(literal)")
        data = b""
        while True:
            piece = s.recv(65536)
            if not piece: break
            data += piece
        sys.stdout.write(data.decode("latin-1") + "<closed>")
        """
    return try await run(E2E.python, ["-c", script]).output
}
