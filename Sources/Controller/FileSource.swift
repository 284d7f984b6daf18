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
        self.reload(&files)
        self.firstLoad.markDone()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Waits in the thread pool, a tenth of a second at a time, so shutdown is seen promptly.
            let changed = (try? await NIOThreadPool.singleton.runIfActive { watcher.waitForChange(timeoutMilliseconds: 100) }) ?? false
            if changed { self.reload(&files) }
        }
    }

    /// Re-reads the directory and hands the index the merged snapshot.
    func reload(_ files: inout ManifestDirectory) {
        self.metrics.recordReload()
        let outcome = files.reload()
        for (file, error) in outcome.results {
            self.metrics.recordManifest(file: file, error: error)
            if let error {
                self.logger.error("manifest rejected; its last good version stays in force", metadata: ["error": "\(error)"])
            }
        }
        for duplicate in outcome.duplicates {
            self.logger.warning("an object is defined twice; the later file wins", metadata: ["object": "\(duplicate)"])
        }
        let notified = self.index.apply(outcome.snapshot)
        self.logger.debug(
            "manifests loaded",
            metadata: [
                "services": "\(outcome.snapshot.services.count)", "workloads": "\(outcome.snapshot.workloads.count)",
                "notified": "\(notified)",
            ]
        )
    }
}

/// The last good contents of each manifest file of a directory.
struct ManifestDirectory {
    let path: String
    private var files: [String: (text: String, objects: [ClusterObject])] = [:]
    /// The text of files whose newest version was rejected, so one bad version is reported once.
    private var rejected: [String: String] = [:]

    init(path: String) {
        self.path = path
    }

    struct Outcome {
        var snapshot: ClusterSnapshot
        /// Files read this time: `nil` when accepted, the error when rejected.
        var results: [(String, ManifestError?)]
        var duplicates: [ObjectKey]
    }

    mutating func reload() -> Outcome {
        var results: [(String, ManifestError?)] = []
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: self.path)) ?? [])
            .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }
            .sorted()
        let present = Set(names)
        for gone in Set(self.files.keys).union(self.rejected.keys) where !present.contains(gone) {
            self.files[gone] = nil
            self.rejected[gone] = nil
            results.append((gone, nil))
        }
        for name in names {
            let file = self.path + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else {
                // Vanished between listing and reading, or unreadable: keep what we had.
                results.append((name, ManifestError(.unreadable, file: file, line: 0, "cannot read the file")))
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            if let known = self.files[name], known.text == text {
                if self.rejected.removeValue(forKey: name) != nil { results.append((name, nil)) }  // reverted
                continue
            }
            if self.rejected[name] == text { continue }
            do {
                let objects = try ManifestParser.parse(text, file: file)
                self.files[name] = (text, objects)
                self.rejected[name] = nil
                results.append((name, nil))
            } catch {
                self.rejected[name] = text
                results.append((name, error))
            }
        }
        var snapshot = ClusterSnapshot()
        var duplicates: [ObjectKey] = []
        for name in names {
            for object in self.files[name]?.objects ?? [] {
                switch object {
                case .service(let service):
                    if snapshot.services.updateValue(service, forKey: service.key) != nil { duplicates.append(service.key) }
                case .workload(let workload):
                    if snapshot.workloads.updateValue(workload, forKey: workload.key) != nil { duplicates.append(workload.key) }
                }
            }
        }
        return Outcome(snapshot: snapshot, results: results, duplicates: duplicates)
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
