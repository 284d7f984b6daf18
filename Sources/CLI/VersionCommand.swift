import ArgumentParser
import Controller
import Foundation
import Kubernetes
import MeshModel

/// `swiftlet version`: the CLI's version, and — when a cluster is there — the control plane's and the proxies', as
/// `linkerd version` prints them.
struct VersionCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Prints the versions of the CLI, the installed control plane and the meshed pods' proxies."
    )

    @Flag(help: "The CLI's version only; the cluster is not asked.")
    var client = false

    @Flag(help: "Versions alone, without their names.")
    var short = false

    @Option(help: "Kubeconfig to reach the cluster with (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context.")
    var context: String?

    @Option(name: .customLong("namespace"), help: "The control plane's namespace.")
    var controlPlaneNamespace = MeshValues.defaultControlPlaneNamespace

    func execute() async throws {
        print(self.short ? SwiftletVersion.current : "Client version: \(SwiftletVersion.current)")
        guard !self.client else { return }
        let server: String
        var proxies: [String: Int] = [:]
        do {
            let client = try KubernetesClient(config: try KubernetesConfig.resolve(kubeconfig: self.kubeconfig, context: self.context))
            do {
                server = try await Self.controlPlaneVersion(client, namespace: self.controlPlaneNamespace)
                proxies = try await Self.proxyVersions(client)
                try? await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw error
            }
        } catch {
            print(self.short ? "unavailable" : "Server version: unavailable (\(Self.oneLine(error)))")
            return
        }
        print(self.short ? server : "Server version: \(server)")
        for (version, pods) in proxies.sorted(by: { $0.key < $1.key }) {
            print(self.short ? version : "Proxy version: \(version) (\(pods) \(pods == 1 ? "pod" : "pods"))")
        }
    }

    /// The installed version, as the control plane's values say it.
    static func controlPlaneVersion(_ client: KubernetesClient, namespace: String) async throws -> String {
        let config = try await client.get(
            ResourcePath.configMaps.inNamespace(namespace).path(name: "swiftlet-config"), as: GenericObject.self)
        guard let text = config.json["data"]?["values.yaml"]?.stringValue else {
            throw CommandFailure("\(namespace)/swiftlet-config has no values.yaml")
        }
        return try MeshValues(yaml: text).version
    }

    /// The meshed pods' proxy versions, with how many pods run each.
    static func proxyVersions(_ client: KubernetesClient) async throws -> [String: Int] {
        let pods = try await client.get(
            ResourcePath.pods.path(), query: [("labelSelector", MeshLabels.controlPlaneNamespace)], as: ObjectList<GenericObject>.self
        ).items
        var versions: [String: Int] = [:]
        for pod in pods { versions[pod.metadata.annotations?[MeshLabels.proxyVersion] ?? "unknown", default: 0] += 1 }
        return versions
    }

    static func oneLine(_ error: any Error) -> String {
        String(describing: error).split(separator: "\n").joined(separator: "; ")
    }
}

/// `swiftlet completion bash|zsh|fish`: the shell completion script, for `source <(swiftlet completion bash)`.
struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Prints the shell completion script: source <(swiftlet completion bash), or zsh, or fish.",
        discussion: """
            bash: add `source <(swiftlet completion bash)` to ~/.bashrc. zsh: `swiftlet completion zsh > "${fpath[1]}/_swiftlet"`. \
            fish: `swiftlet completion fish > ~/.config/fish/completions/swiftlet.fish`.
            """
    )

    @Argument(help: "The shell: bash, zsh or fish.")
    var shell: String

    func validate() throws {
        guard CompletionShell(rawValue: self.shell) != nil else {
            throw ValidationError("shell: \"\(self.shell)\" is not bash, zsh or fish")
        }
    }

    func run() throws {
        print(SwiftletCommand.completionScript(for: CompletionShell(rawValue: self.shell)!))
    }
}
