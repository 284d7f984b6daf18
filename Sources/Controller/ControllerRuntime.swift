import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Assembles `swiftlet controller`: the source, the index, the Destination gRPC server and the admin server, run
/// as one `ServiceGroup`.
public enum ControllerRuntime {
    /// Runs until SIGTERM/SIGINT. Logs one `swiftlet controller ready` line with the bound ports once every
    /// listener is up and the manifests were read once (tests and the demo wait for it).
    public static func run(_ config: ControllerConfig, logger: Logger) async throws {
        let index = ClusterIndex(identity: config.identity, clusterDomain: config.clusterDomain)
        let metrics = ControllerMetrics()
        let source = FileSource(directory: config.manifestDirectory, index: index, metrics: metrics, logger: logger)
        let destination = DestinationServer(
            host: config.destinationHost, port: config.destinationPort,
            services: [DestinationService(index: index, metrics: metrics, logger: logger)]
        )
        let started = ProcessClock.now
        let admin = try await AdminHTTPServer.bind(host: config.adminHost, port: config.adminPort) { method, path in
            switch (method, path) {
            case (.GET, "/metrics"):
                return .init(.ok, metrics.render(index: index, processLines: ProcessClock.renderStart(started)), contentType: "text/plain; version=0.0.4")
            case (.GET, "/ready"):
                return source.isLoaded ? .init(.ok, "ready\n") : .init(.serviceUnavailable, "manifests not read yet\n")
            case (.GET, "/live"):
                return .init(.ok, "live\n")
            case (_, "/metrics"), (_, "/ready"), (_, "/live"):
                return .init(.methodNotAllowed, "method not allowed\n")
            default:
                return .init(.notFound, "not found\n")
            }
        }
        let announcer = ReadyAnnouncer(source: source, destination: destination, adminPort: admin.port, logger: logger)
        var configuration = ServiceGroupConfiguration(
                services: [
                    .init(service: source),
                    .init(service: destination),
                    .init(service: announcer, successTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [.sigquit],
                logger: logger
        )
        // Streams end on graceful shutdown; whatever still hangs after this long is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
    }
}

/// Waits for the first manifest load and the gRPC listener, then logs the ready line and ends.
struct ReadyAnnouncer: Service {
    let source: FileSource
    let destination: DestinationServer
    let adminPort: Int
    let logger: Logger

    func run() async throws {
        let port = try await self.destination.listeningPort()
        try await self.source.loaded()
        self.logger.info("swiftlet controller ready", metadata: ["destination": "\(port)", "admin": "\(self.adminPort)"])
    }
}

/// Process start time for `process_start_time_seconds`.
enum ProcessClock {
    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func renderStart(_ seconds: Int64) -> String {
        "# HELP process_start_time_seconds Start time of the process since the epoch.\n"
            + "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(seconds)\n"
    }
}
