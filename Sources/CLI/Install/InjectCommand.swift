import ArgumentParser
import Controller
import Foundation
import Kubernetes
import ProxyRuntime

/// Reads the documents `inject` and `uninject` edit: files, directories (their `.yaml`, `.yml` and `.json` files,
/// recursively, in name order, as Linkerd reads them), or standard input for `-` (or no file at all). Everything is
/// read before anything else happens: a missing file is reported before the cluster is asked anything.
struct ManifestInput: ParsableArguments {
    @Argument(help: "YAML or JSON files or directories (multi-document streams and Lists too); `-` or none reads standard input.")
    var files: [String] = []

    /// Each input's text with its name, for errors.
    func read() throws -> [(name: String, text: String)] {
        var inputs: [(name: String, text: String)] = []
        for file in self.files.isEmpty ? ["-"] : self.files {
            if file == "-" {
                inputs.append(try Self.decode(FileHandle.standardInput.readDataToEndOfFile(), name: "<stdin>"))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
                throw CommandFailure("\(file): no such file or directory")
            }
            for path in isDirectory.boolValue ? try Self.manifests(in: file) : [file] {
                guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot read the file") }
                inputs.append(try Self.decode(data, name: path))
            }
        }
        return inputs
    }

    /// The manifest files under `directory`, recursively, sorted.
    static func manifests(in directory: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else {
            throw CommandFailure("\(directory): cannot read the directory")
        }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard [".yaml", ".yml", ".json"].contains(where: { relative.hasSuffix($0) }) else { continue }
            found.append((directory as NSString).appendingPathComponent(relative))
        }
        guard !found.isEmpty else { throw CommandFailure("\(directory): no .yaml, .yml or .json files in it") }
        return found.sorted()
    }

    /// The text of one input: refused when it is not text (a binary file is never echoed back) or holds nothing.
    static func decode(_ data: Data, name: String) throws -> (name: String, text: String) {
        guard !data.contains(0), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure("\(name): not YAML or JSON (the file is binary)")
        }
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw CommandFailure(
                name == "<stdin>" ? "nothing on standard input: give manifests as files, or pipe them in" : "\(name): the file is empty")
        }
        return (name, text)
    }

    /// Edits each input and prints it in the form it came in (JSON stays JSON); the report goes to standard error,
    /// with a note for an input in which there was nothing to edit.
    func edit(_ inputs: [(name: String, text: String)], nothing: String, _ body: (inout DocumentStream) -> [String]) throws {
        for (name, text) in inputs {
            var stream: DocumentStream
            do {
                stream = try DocumentStream(parsing: text)
            } catch {
                throw CommandFailure("\(name): \(error.message)")
            }
            var report = body(&stream)
            if report.isEmpty { report = ["\(name): \(nothing)"] }
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
                    throw CommandFailure("\(name): \(error.message)")
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
    var proxyVersion: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("A value, as key=value (repeatable), as for install.", valueName: "key=value"))
    var sets: [String] = []

    @Option(help: "Kubeconfig to read the installed values and anchors with (default: $KUBECONFIG, ~/.kube/config, in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context.")
    var context: String?

    func execute() async throws {
        // The input first: a missing or unreadable file is reported before the cluster is asked anything.
        let inputs = try self.input.read()
        var values: MeshValues
        let anchors: String
        if let file = self.identityTrustAnchorsFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
                throw CommandFailure("\(file): not a PEM bundle of certificates")
            }
            (values, anchors) = (MeshValues(version: BuildInfo.version), text)
        } else {
            (values, anchors) = try await Self.installed(kubeconfig: self.kubeconfig, context: self.context)
        }
        var options = try InstallOptions.parse([])
        options.registry = self.registry
        options.controlPlaneVersion = self.proxyVersion
        options.sets = self.sets
        try options.apply(to: &values, haGiven: false)
        let injector = ProxyInjector(values: values, trustAnchorsPEM: anchors)
        try self.input.edit(
            inputs, nothing: "nothing injected: no Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs or CronJobs"
        ) {
            stream in WorkloadInjection.inject(&stream, with: injector)
        }
    }

    /// The installed control plane's values and anchors.
    static func installed(kubeconfig: String?, context: String?) async throws -> (MeshValues, String) {
        let client: KubernetesClient
        do {
            client = try KubernetesClient(config: try KubernetesConfig.resolve(kubeconfig: kubeconfig, context: context))
        } catch {
            throw CommandFailure(
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
            throw CommandFailure("\(error); give --identity-trust-anchors-file to inject offline")
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
        try self.input.edit(try self.input.read(), nothing: "nothing uninjected: no workloads in it") { stream in
            WorkloadInjection.uninject(&stream)
        }
    }
}
