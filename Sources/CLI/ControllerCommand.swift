import ArgumentParser
import Controller
import Logging
import ProxyCore

/// `swiftlet controller`: every control-plane service in one process.
struct ControllerCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Runs the control plane: discovery from a directory of YAML (local mode), served over gRPC."
    )

    @Option(name: .customLong("manifests"), help: "Directory of YAML documents (Service, Workload) to serve; watched for changes.")
    var manifests: String

    @Option(help: "Destination API listen address.")
    var destinationAddr = "0.0.0.0:8086"

    @Option(help: "Admin (/metrics, /ready, /live) listen address.")
    var adminAddr = "0.0.0.0:9990"

    @Option(help: "Trust domain of workload identities.")
    var trustDomain = "cluster.local"

    @Option(help: "Namespace of the control plane (part of identity names).")
    var controlPlaneNamespace = "swiftlet"

    @Option(help: "Cluster DNS domain (`<svc>.<ns>.svc.<domain>`).")
    var clusterDomain = "cluster.local"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func execute() async throws {
        var config = ControllerConfig(manifestDirectory: self.manifests)
        (config.destinationHost, config.destinationPort) = try Self.address(self.destinationAddr, option: "--destination-addr")
        (config.adminHost, config.adminPort) = try Self.address(self.adminAddr, option: "--admin-addr")
        config.identity = MeshIdentity(trustDomain: self.trustDomain, controlPlaneNamespace: self.controlPlaneNamespace)
        config.clusterDomain = self.clusterDomain
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            throw ValidationError("--log-level: \"\(self.logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        var logger = Logger(label: "swiftlet-controller")
        logger.logLevel = level
        try await ControllerRuntime.run(config, logger: logger)
    }

    /// `host:port` (or `[v6]:port`) as every listener address in the project is read: with `HostPort`'s parser.
    static func address(_ text: String, option: String) throws -> (String, Int) {
        guard let address = HostPort(parsing: text) else { throw ValidationError("\(option): \"\(text)\" is not host:port") }
        return (address.host, address.port)
    }
}
