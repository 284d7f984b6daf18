import Foundation
import Logging
import ServiceLifecycle

/// Local mode's Prometheus (`swiftlet controller --prometheus ADDR`, which `swiftlet demo` passes): the system's
/// `prometheus` binary, run with `PrometheusScrapeConfig.local` and a targets file this service keeps current as
/// Workloads come and go (file-based discovery: Prometheus re-reads the file when it is replaced). Stopped with the
/// controller.
public struct LocalPrometheus: Service {
    public struct Configuration: Sendable {
        /// The `prometheus` executable.
        public var binary: String
        public var host: String
        public var port: Int
        /// Its configuration, targets, log and data (`data/`).
        public var directory: String
        /// How long samples are kept: the demo's views need minutes, not weeks.
        public var retention = "6h"

        public init(binary: String, host: String, port: Int, directory: String) {
            self.binary = binary
            self.host = host
            self.port = port
            self.directory = directory
        }

        /// `prometheus` on `PATH`, if there is one.
        public static func findBinary(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
            let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            return path.split(separator: ":").map { "\($0)/prometheus" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
    }

    let configuration: Configuration
    let index: ClusterIndex
    /// The controller's admin server, which Prometheus scrapes too.
    let controllerAdmin: String
    let controlPlaneNamespace: String
    let logger: Logger

    public init(
        configuration: Configuration, index: ClusterIndex, controllerAdmin: String, controlPlaneNamespace: String, logger: Logger
    ) {
        self.configuration = configuration
        self.index = index
        self.controllerAdmin = controllerAdmin
        self.controlPlaneNamespace = controlPlaneNamespace
        self.logger = logger
    }

    var targetsFile: String { self.configuration.directory + "/targets/proxies.json" }

    public func run() async throws {
        let directory = self.configuration.directory
        try FileManager.default.createDirectory(atPath: directory + "/targets", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        // The generation first: a change landing while the file is written is then seen as one on the next turn.
        var generation = self.index.generation
        var written = self.writeTargets(previous: nil)
        let config = directory + "/prometheus.yml"
        try PrometheusScrapeConfig.local(
            targetsFile: self.targetsFile, controllerAdmin: self.controllerAdmin, controlPlaneNamespace: self.controlPlaneNamespace
        ).write(toFile: config, atomically: true, encoding: .utf8)
        let process = try ManagedProcess(
            name: "prometheus", executable: self.configuration.binary,
            arguments: [
                "--config.file=\(config)", "--storage.tsdb.path=\(directory)/data",
                "--storage.tsdb.retention.time=\(self.configuration.retention)",
                "--web.listen-address=\(self.configuration.host):\(self.configuration.port)", "--log.level=warn",
            ],
            log: directory + "/prometheus.log")
        defer { process.stop() }
        self.logger.info(
            "prometheus started",
            metadata: ["address": "http://\(self.configuration.host):\(self.configuration.port)", "directory": "\(directory)"])
        var reported = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            let now = self.index.generation
            if now != generation {
                generation = now
                written = self.writeTargets(previous: written)
            }
            if !reported, process.hasExited {
                reported = true
                self.logger.error("prometheus exited; viz has no metrics", metadata: ["log": "\(process.log)"])
            }
        }
    }

    /// Writes the targets when they differ from `previous` (replaced whole: Prometheus never reads half a file);
    /// returns what the file holds.
    private func writeTargets(previous: String?) -> String? {
        let text = PrometheusTargets.fileSD(self.index.snapshot.workloads.values, controlPlaneNamespace: self.controlPlaneNamespace)
        guard text != previous else { return previous }
        do {
            try text.write(toFile: self.targetsFile, atomically: true, encoding: .utf8)
            return text
        } catch {
            self.logger.warning("cannot write prometheus's targets", metadata: ["file": "\(self.targetsFile)", "error": "\(error)"])
            return previous
        }
    }
}
