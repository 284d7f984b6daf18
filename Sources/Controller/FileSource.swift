import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A `ClusterSource` over a directory of YAML files (`*.yaml`, `*.yml`), watched with inotify.
///
/// Each file is taken whole or not at all: when a file fails to parse, the error (file, line, reason) is logged
/// and counted, and that file's last good contents stay in force, so one typo drops nothing.
public struct FileSource: Service {
    public let directory: String
    let index: ClusterIndex
    let metrics: ControllerMetrics
    let logger: Logger
    private let firstLoad = FirstLoad()

    public init(directory: String, index: ClusterIndex, metrics: ControllerMetrics, logger: Logger) {
        self.directory = directory
        self.index = index
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether the directory was read once (the controller is ready then).
    public var isLoaded: Bool { self.firstLoad.isDone }

    /// Returns once the directory was read once.
    public func loaded() async throws {
        try await self.firstLoad.wait()
    }

    public func run() async throws {
        let watcher = try DirectoryWatcher(path: self.directory)
        defer { watcher.close() }
        var files = ManifestDirectory(path: self.directory)
        var reported = Set<ManifestError>()
        self.reload(&files, only: nil, reported: &reported)
        self.firstLoad.markDone()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Waits in the thread pool, a tenth of a second at a time, so shutdown is seen promptly.
            let change = try? await NIOThreadPool.singleton.runIfActive { watcher.waitForChange(timeoutMilliseconds: 100) }
            switch change {
            case .files(let names)?: self.reload(&files, only: names, reported: &reported)
            case .everything?: self.reload(&files, only: nil, reported: &reported)
            default: break
            }
        }
    }

    /// Re-reads the files named (all of them when `only` is nil) and hands the index the snapshot with what changed.
    /// Problems in the routes (`reported`: those already told) are logged once each, when they appear.
    func reload(_ files: inout ManifestDirectory, only names: Set<String>?, reported: inout Set<ManifestError>) {
        self.metrics.recordReload()
        let outcome = files.reload(only: names)
        for (file, error) in outcome.results {
            self.metrics.recordManifest(file: file, error: error)
            if let error {
                self.logger.error("manifest rejected; its last good version stays in force", metadata: ["error": "\(error)"])
            }
        }
        for duplicate in outcome.duplicates {
            self.logger.warning("an object is defined twice; the later file wins", metadata: ["object": "\(duplicate)"])
        }
        let notified = self.index.apply(outcome.snapshot, changes: outcome.changes)
        if outcome.changes.touchesPolicy {
            let problems = Set(PolicyResolver.problems(in: outcome.snapshot))
            for problem in problems.subtracting(reported).sorted(by: { ($0.file, $0.line) < ($1.file, $1.line) }) {
                self.logger.warning("route problem; the rest of the route keeps working", metadata: ["problem": "\(problem)"])
            }
            reported = problems
        }
        self.logger.debug(
            "manifests loaded",
            metadata: [
                "services": "\(outcome.snapshot.services.count)", "workloads": "\(outcome.snapshot.workloads.count)",
                "notified": "\(notified)",
            ]
        )
    }
}

/// A one-shot latch: `wait()` returns once `markDone()` was called, and throws if the waiting task is cancelled.
final class FirstLoad: Sendable {
    private struct State {
        var done = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Error>] = [:]
    }

    private let state = Mutex(State())

    var isDone: Bool { self.state.withLock { $0.done } }

    func markDone() {
        let waiters = self.state.withLock { state in
            state.done = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        let id = self.state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                enum Outcome { case wait, ready, cancelled }
                let outcome: Outcome = self.state.withLock { state in
                    if state.done { return .ready }
                    if Task.isCancelled { return .cancelled }
                    state.waiters[id] = continuation
                    return .wait
                }
                switch outcome {
                case .wait: break
                case .ready: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
