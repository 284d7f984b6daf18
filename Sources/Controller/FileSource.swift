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
        var ignoredKinds = Set<String>()
        self.reload(&files, only: nil, reported: &reported, ignoredKinds: &ignoredKinds)
        self.firstLoad.markDone()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Waits in the thread pool, a tenth of a second at a time, so shutdown is seen promptly.
            let change = try? await NIOThreadPool.singleton.runIfActive { watcher.waitForChange(timeoutMilliseconds: 100) }
            switch change {
            case .files(let names)?: self.reload(&files, only: names, reported: &reported, ignoredKinds: &ignoredKinds)
            case .everything?: self.reload(&files, only: nil, reported: &reported, ignoredKinds: &ignoredKinds)
            default: break
            }
        }
    }

    /// Re-reads the files named (all of them when `only` is nil) and hands the index the snapshot with what changed.
    /// Problems in the routes (`reported`: those already told) are logged once each, when they appear; so is each
    /// kind the mesh does not read (`ignoredKinds`), once per file.
    func reload(
        _ files: inout ManifestDirectory, only names: Set<String>?, reported: inout Set<ManifestError>, ignoredKinds: inout Set<String>
    ) {
        self.metrics.recordReload()
        let outcome = files.reload(only: names)
        for result in outcome.results {
            self.metrics.recordManifest(file: result.name, error: result.error, keptPrevious: result.keptPrevious)
            if let error = result.error {
                self.logger.error(
                    result.keptPrevious
                        ? "manifest rejected; its last good version stays in force" : "manifest rejected; none of it is in force",
                    metadata: ["error": "\(error)"])
            }
        }
        for duplicate in outcome.duplicates {
            self.logger.warning("an object is defined more than once", metadata: ["object": "\(duplicate)"])
        }
        for (file, kinds) in outcome.ignored.sorted(by: { $0.key < $1.key }) {
            for kind in kinds {
                let kindName = String(kind.prefix { $0 != " " })
                guard ignoredKinds.insert("\(file) \(kindName)").inserted else { continue }
                self.logger.notice("a kind the mesh does not read; ignored", metadata: ["file": "\(file)", "document": "\(kind)"])
            }
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
