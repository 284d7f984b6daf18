import ArgumentParser
import Controller
import Foundation
import Kubernetes
import ProxyRuntime

/// Options shared by `install` and `upgrade`: the values to render with and the output format.
struct InstallOptions: ParsableArguments {
    @Flag(help: "High availability: 3 controllers on distinct nodes, a PodDisruptionBudget, and an injector that fails closed.")
    var ha = false

    @Option(help: "Registry the images are pulled from.")
    var registry: String?

    @Option(help: "Version (image tag) of the control plane and the proxies it injects.")
    var controlPlaneVersion: String?

    @Option(help: "Trust domain of workload identities.")
    var identityTrustDomain: String?

    @Option(help: "The cluster's DNS domain.")
    var clusterDomain: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Another value, as key=value (repeatable). Keys: \(MeshValues.keys.map(\.key).joined(separator: ", ")).", valueName: "key=value"
        ))
    var sets: [String] = []

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml or json.")
    var output = "yaml"

    /// Applies the flags to `values` in a fixed order: `--ha` first (it sets replicas and the failure policy),
    /// then the named flags, then each `--set` in the order given.
    func apply(to values: inout MeshValues, haGiven: Bool) throws {
        guard ["yaml", "json"].contains(self.output) else { throw ValidationError("-o: \"\(self.output)\" is not yaml or json") }
        do {
            if haGiven { try values.set("ha", "true") }
            if let registry { try values.set("registry", registry) }
            if let controlPlaneVersion { try values.set("version", controlPlaneVersion) }
            if let identityTrustDomain { try values.set("identity.trustDomain", identityTrustDomain) }
            if let clusterDomain { try values.set("clusterDomain", clusterDomain) }
            for assignment in self.sets {
                guard let equals = assignment.firstIndex(of: "=") else { throw ValuesError(assignment, "", "expected key=value") }
                try values.set(String(assignment[..<equals]), String(assignment[assignment.index(after: equals)...]))
            }
        } catch let error as ValuesError {
            throw ValidationError("--set \(error)")
        }
    }

    /// Prints the documents as YAML or JSON; parses them either way, so a template that broke YAML fails here
    /// rather than at `kubectl apply`.
    func print(_ documents: [String]) throws {
        let stream = try DocumentStream(parsing: documents.map { "---\n" + $0 }.joined())
        guard stream.documents.count == documents.count else {
            throw InstallError("internal error: rendered \(documents.count) documents but they parse as \(stream.documents.count)")
        }
        switch self.output {
        case "json": Swift.print(stream.json(), terminator: "")
        default: Swift.print(documents.map { "---\n" + $0 }.joined(), terminator: "")
        }
    }
}

/// `swiftlet install`: the whole control plane for one `kubectl apply -f -`.
struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Prints the control plane's manifests: swiftlet install | kubectl apply -f -",
        discussion: """
            Generates the trust anchor, the identity issuer and the injector's serving certificate in memory (the \
            anchor's key is dropped once the issuer is signed) unless the three --identity-* files are given.
            """
    )

    @OptionGroup var options: InstallOptions

    @Option(help: "Trust anchors to install (PEM bundle), with the issuer files.")
    var identityTrustAnchorsFile: String?

    @Option(help: "Issuer certificate (PEM: the issuer, then any intermediates up to an anchor).")
    var identityIssuerCertificateFile: String?

    @Option(help: "Issuer private key (PEM).")
    var identityIssuerKeyFile: String?

    func run() throws {
        var values = MeshValues(version: BuildInfo.version)
        try self.options.apply(to: &values, haGiven: self.options.ha)
        let credentials: InstallCredentials
        switch (self.identityTrustAnchorsFile, self.identityIssuerCertificateFile, self.identityIssuerKeyFile) {
        case (nil, nil, nil):
            credentials = try InstallCredentials.generate(values: values)
        case (let anchors?, let certificate?, let key?):
            do {
                credentials = try InstallCredentials.load(
                    trustAnchors: anchors, issuerCertificate: certificate, issuerKey: key, values: values)
            } catch {
                throw CommandFailure("\(error)")
            }
        default:
            throw ValidationError(
                "--identity-trust-anchors-file, --identity-issuer-certificate-file and --identity-issuer-key-file go together")
        }
        try self.options.print(InstallManifest(values: values, credentials: credentials).documents)
    }
}

/// `swiftlet uninstall`: what to delete, for `kubectl delete -f -`.
struct UninstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Prints the control plane's objects to delete: swiftlet uninstall | kubectl delete -f -",
        discussion: "Meshed pods keep their proxies until they are restarted; run `swiftlet uninject` on their workloads first."
    )

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: yaml or json.")
    var output = "yaml"

    func run() throws {
        var options = try InstallOptions.parse([])
        options.output = self.output
        guard ["yaml", "json"].contains(self.output) else { throw ValidationError("-o: \"\(self.output)\" is not yaml or json") }
        try options.print(InstallManifest.uninstallDocuments(namespace: MeshValues.defaultControlPlaneNamespace))
    }
}

/// `swiftlet upgrade`: an install that keeps the cluster's anchors, issuer, injector certificate and values.
struct UpgradeCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Prints an install that keeps the cluster's trust anchors, issuer and values: swiftlet upgrade | kubectl apply -f -",
        discussion:
            "Reads ConfigMaps swiftlet-config and swiftlet-identity-trust-roots and Secrets swiftlet-identity-issuer and "
            + "swiftlet-injector-tls; flags and --set change the values read."
    )

    @OptionGroup var options: InstallOptions

    @Option(help: "Kubeconfig to reach the cluster with (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context.")
    var context: String?

    func execute() async throws {
        let namespace = MeshValues.defaultControlPlaneNamespace
        let client: KubernetesClient
        do {
            client = try KubernetesClient(config: try KubernetesConfig.resolve(kubeconfig: self.kubeconfig, context: self.context))
        } catch {
            throw CommandFailure("cannot reach the cluster: \(error)")
        }
        let result: Result<(MeshValues, InstallCredentials), any Error>
        do {
            result = .success(try await Self.read(from: client, namespace: namespace))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        var (values, credentials) = try result.get()
        // A new version is what an upgrade is for: the stored one is replaced unless --control-plane-version or --set says
        // otherwise.
        values.version = BuildInfo.version
        try self.options.apply(to: &values, haGiven: self.options.ha)
        try self.options.print(InstallManifest(values: values, credentials: credentials).documents)
    }

    /// The installed values and credentials, each from the object `install` wrote it to.
    static func read(from client: KubernetesClient, namespace: String) async throws -> (MeshValues, InstallCredentials) {
        func data(_ path: ResourcePath, _ name: String, _ key: String, base64: Bool) async throws -> String {
            let object: GenericObject
            do {
                object = try await client.get(path.inNamespace(namespace).path(name: name), as: GenericObject.self)
            } catch {
                throw InstallError(
                    "cannot read \(path.plural) \(namespace)/\(name): \(error) (is Swiftlet installed? `swiftlet install` first)")
            }
            if base64 {
                guard let text = object.secretText(key) else { throw InstallError("\(namespace)/\(name) has no base64 data key \(key)") }
                return text
            }
            guard let value = object.json["data"]?[key]?.stringValue else {
                throw InstallError("\(namespace)/\(name) has no data key \(key)")
            }
            return value
        }
        let values: MeshValues
        do {
            values = try MeshValues(yaml: try await data(.configMaps, "swiftlet-config", "values.yaml", base64: false))
        } catch let error as ValuesError {
            throw InstallError("\(namespace)/swiftlet-config: \(error)")
        }
        let credentials = InstallCredentials(
            trustAnchorsPEM: try await data(.configMaps, "swiftlet-identity-trust-roots", "ca-bundle.crt", base64: false),
            issuerCertificatePEM: try await data(.secrets, "swiftlet-identity-issuer", "tls.crt", base64: true),
            issuerKeyPEM: try await data(.secrets, "swiftlet-identity-issuer", "tls.key", base64: true),
            injectorCertificatePEM: try await data(.secrets, "swiftlet-injector-tls", "tls.crt", base64: true),
            injectorKeyPEM: try await data(.secrets, "swiftlet-injector-tls", "tls.key", base64: true),
            injectorCAPEM: try await data(.secrets, "swiftlet-injector-tls", "ca.crt", base64: true),
            tap: try await Self.tapCredentials(values: values) { key in try await data(.secrets, "swiftlet-tap-tls", key, base64: true) }
        )
        return (values, credentials)
    }

    /// The tap API's certificate as installed; a fresh one when the install predates it (or its Secret is gone).
    static func tapCredentials(values: MeshValues, read: (String) async throws -> String) async throws -> ServingCredentials {
        do {
            return ServingCredentials(
                certificatePEM: try await read("tls.crt"), keyPEM: try await read("tls.key"), caPEM: try await read("ca.crt"))
        } catch {
            return try InstallCredentials.serving(service: "swiftlet-tap", values: values)
        }
    }
}
