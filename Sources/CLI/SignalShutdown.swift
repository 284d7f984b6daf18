import Logging
import ServiceLifecycle

/// Runs `body` as the only service of a group that stops it on SIGTERM, SIGINT or SIGHUP (cancelling it).
func withGracefulShutdownOnSignals(_ body: @escaping @Sendable () async throws -> Void) async throws {
    struct BodyService: Service {
        let body: @Sendable () async throws -> Void
        func run() async throws {
            try await cancelWhenGracefulShutdown { try await self.body() }
        }
    }
    var logger = Logger(label: "swiftlet")
    logger.logLevel = .warning
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: BodyService(body: body), successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger
        )
    )
    try await group.run()
}
