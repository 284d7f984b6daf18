import ArgumentParser
import Foundation
import Kubernetes

/// `swiftlet check`: whether the cluster is ready for Swiftlet (`--pre`), whether the installed control plane is
/// healthy, and (`--proxy`) whether the meshed pods' proxies are. Exits 1 when any check fails.
struct CheckCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Checks the cluster and the Swiftlet installation, with a hint for each problem (exit status 1 on any ×)."
    )

    @Flag(help: "Check that the cluster is ready for an install instead.")
    var pre = false

    @Flag(help: "Check the data plane's proxies too.")
    var proxy = false

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "With --proxy: the namespace of the pods to check (default: all).")
    var namespace: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table or json.")
    var output = "table"

    @Option(help: "Kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context.")
    var context: String?

    func execute() async throws {
        guard ["table", "json"].contains(self.output) else { throw ValidationError("-o: \"\(self.output)\" is not table or json") }
        var checks = HealthChecks(pre: self.pre, proxy: self.proxy, dataPlaneNamespace: self.namespace)
        do {
            checks.client = try KubernetesClient(config: try KubernetesConfig.resolve(kubeconfig: self.kubeconfig, context: self.context))
        } catch {
            checks.clientError = "\(error)"
        }
        let report = await checks.run()
        try? await checks.client?.shutdown()
        print(self.output == "json" ? report.json : report.text, terminator: "")
        if !report.success { throw ExitCode(1) }
    }
}
