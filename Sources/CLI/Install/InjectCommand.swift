import ArgumentParser
import Controller
import Foundation
import Kubernetes
import ProxyRuntime

/// Reads the documents `inject` and `uninject` edit: files, or standard input for `-` (or no file at all).
struct ManifestInput: ParsableArguments {
    @Argument(help: "YAML or JSON files (multi-document streams and Lists too); `-` or none reads standard input.")
    var files: [String] = []

    /// Each input's text with its name, for errors.
    func read() throws -> [(name: String, text: String)] {
        let files = self.files.isEmpty ? ["-"] : self.files
        return try files.map { file in
            if file == "-" {
                return ("<stdin>", String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self))
            }
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read the file") }
            return (file, String(decoding: data, as: UTF8.self))
        }
    }

    /// Edits each input and prints it in the form it came in (JSON stays JSON); the report goes to standard error.
    func edit(_ body: (inout DocumentStream) -> [String]) throws {
        for (name, text) in try self.read() {
            var stream: DocumentStream
            do {
                stream = try DocumentStream(parsing: text)
            } catch {
                throw ValidationError("\(name): \(error.message)")
            }
            let report = body(&stream)
            let json = text.drop { $0.isWhitespace }.first.map { $0 == "{" || $0 == "[" } ?? false
            let output: String
            if json, stream.documents.count == 1 {
                let kept = stream.text(ofDocument: 0).flatMap { $0.drop(while: \.isWhitespace).first == "{" ? $0 : nil }
                output = kept.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" } ?? DocumentStream.json(stream.documents[0]) + "\n"
            } else if json {
                output = stream.json()
            } else {
                do {
                    output = try stream.yaml()
                } catch {
                    throw ValidationError("\(name): \(error.message)")
                }
            }
            print(output, terminator: "")
            FileHandle.standardError.write(Data(report.map { $0 + "\n" }.joined().utf8))
        }
    }
}

/// `swiftlet inject`: adds the proxy to workloads offline, as the injector webhook would at pod creation.
struct InjectCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Adds the Swiftlet proxy to the workloads of YAML or JSON manifests: swiftlet inject web.yaml | kubectl apply -f -",
        discussion: """
            Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the proxy (a native sidecar) \
            and its init container; other documents pass through untouched. The proxy's settings and trust anchors come \
            from the installed control plane, or with --identity-trust-anchors-file from the flags alone (offline).
            """
    )

    @OptionGroup var input: ManifestInput

    @Option(help: "Trust anchors (PEM) for the proxies; with it nothing is read from the cluster.")
    var identityTrustAnchorsFile: String?

    @Option(help: "Registry of the proxy image.")
    var registry: String?

    @Option(help: "Version (image tag) of the proxy.")
    var version: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("A value, as key=value (repeatable), as for install.", valueName: "key=value"))
    var sets: [String] = []

    @Option(help: "Kubeconfig to read the installed values and anchors with (default: $KUBECONFIG, ~/.kube/config, in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context.")
    var context: String?

    func execute() async throws {
        var values: MeshValues
        let anchors: String
        if let file = self.identityTrustAnchorsFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
                throw ValidationError("\(file): not a PEM bundle of certificates")
            }
            (values, anchors) = (MeshValues(version: BuildInfo.version), text)
        } else {
            (values, anchors) = try await Self.installed(kubeconfig: self.kubeconfig, context: self.context)
        }
        var options = try InstallOptions.parse([])
        options.registry = self.registry
        options.version = self.version
        options.sets = self.sets
        try options.apply(to: &values, haGiven: false)
        let injector = ProxyInjector(values: values, trustAnchorsPEM: anchors)
        try self.input.edit { stream in WorkloadInjection.inject(&stream, with: injector) }
    }

    /// The installed control plane's values and anchors.
    static func installed(kubeconfig: String?, context: String?) async throws -> (MeshValues, String) {
        let client: KubernetesClient
        do {
            client = try KubernetesClient(config: try KubernetesConfig.resolve(kubeconfig: kubeconfig, context: context))
        } catch {
            throw ValidationError(
                "cannot reach the cluster for the installed values and anchors (\(error)); give --identity-trust-anchors-file to inject "
                    + "offline"
            )
        }
        do {
            let (values, credentials) = try await UpgradeCommand.read(from: client, namespace: MeshValues.defaultControlPlaneNamespace)
            try? await client.shutdown()
            return (values, credentials.trustAnchorsPEM)
        } catch {
            try? await client.shutdown()
            throw ValidationError("\(error); give --identity-trust-anchors-file to inject offline")
        }
    }
}

/// `swiftlet uninject`: removes what `inject` (or the webhook) added.
struct UninjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninject",
        abstract:
            "Removes the Swiftlet proxy from the workloads of YAML or JSON manifests: kubectl get deploy -o yaml | swiftlet uninject | "
            + "kubectl apply -f -"
    )

    @OptionGroup var input: ManifestInput

    func run() throws {
        try self.input.edit { stream in WorkloadInjection.uninject(&stream) }
    }
}
