#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import NIOPosix
import ProxyCore
import ProxyDiscovery
import ProxyRuntime
import ServiceLifecycle

/// `swiftlet-proxy`: configured only by `SWIFTLET_PROXY_*` environment variables (see `--env-reference`).
func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var cursor = environ
    while let entry = cursor.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        cursor += 1
    }
    return result
}

func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--version") {
    print("swiftlet-proxy \(BuildInfo.version)")
    exit(0)
}
if arguments.contains("--env-reference") {
    print(ProxyEnvironment.markdownReference(), terminator: "")
    exit(0)
}
if let unknown = arguments.first {
    writeStderr("swiftlet-proxy: unknown argument '\(unknown)'; configure with SWIFTLET_PROXY_* variables (--env-reference lists them)\n")
    exit(2)
}

let environment = processEnvironment()
let config: ProxyConfig
do {
    config = try ProxyEnvironment.parse(environment)
} catch {
    writeStderr("swiftlet-proxy: bad configuration: \(error)\n")
    exit(2)
}

let level = Logger.Level(rawValue: config.logLevel) ?? .info
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = level
    return handler
}
let logger = Logger(label: "swiftlet-proxy")
let threads = config.workerThreads > 0 ? config.workerThreads : System.coreCount
let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let discovery = config.destinationController.map { controller in
    DestinationClient(
        configuration: .init(
            controller: controller, namespace: config.namespace, workload: config.workload, idleTimeout: config.destinationIdleTimeout
        ),
        logger: logger
    )
}
let proxy = ProxyService(config: config, environment: environment, group: group, logger: logger, discovery: discovery)
// Discovery first: the group stops services in reverse order, so it outlives the proxy's drain.
let services = ServiceGroup(
    configuration: .init(
        services: (discovery.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? [])
            + [.init(service: proxy, successTerminationBehavior: .gracefullyShutdownGroup)],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
)
do {
    try await services.run()
} catch {
    logger.error("swiftlet-proxy failed: \(error)")
    try? await group.shutdownGracefully()
    exit(1)
}
try? await group.shutdownGracefully()
