import ArgumentParser
import Controller
import Foundation
import Kubernetes
import Logging
import ProxyCore

/// `swiftlet controller`: every control-plane service in one process.
struct ControllerCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Runs the control plane: discovery from the Kubernetes API or a directory of YAML (local mode), served over gRPC."
    )

    @Option(name: .customLong("manifests"), help: "Directory of YAML documents (Service, Workload, routes) to serve; watched for changes.")
    var manifests: String?

    @Flag(
        help: """
            Follow the Kubernetes API: in a pod, from its service account (KUBERNETES_SERVICE_HOST and the token, CA and namespace \
            files); outside one, from --kubeconfig.
            """
    )
    var kubernetes = false

    @Option(help: "Kubeconfig to reach the API with, to run the controller outside the cluster (implies --kubernetes).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context to use (default: its current context).")
    var context: String?

    @Option(help: "Destination API listen address.")
    var destinationAddr = "0.0.0.0:8086"

    @Option(help: "Admin (/metrics, /ready, /live) listen address.")
    var adminAddr = "0.0.0.0:9990"

    @Option(help: "Trust domain of workload identities.")
    var identityTrustDomain = "cluster.local"

    @Option(help: "Namespace of the control plane (part of identity names).")
    var controlPlaneNamespace = "swiftlet"

    @Option(help: "Cluster DNS domain (`<svc>.<ns>.svc.<domain>`).")
    var clusterDomain = "cluster.local"

    @Option(help: "Identity API listen address (TLS), or `off`.")
    var identityAddr = "0.0.0.0:8080"

    @Option(
        help: """
            Trust anchors (PEM bundle; several during a rotation). With the issuer files; without them a fresh anchor and issuer are \
            made in memory.
            """
    )
    var identityTrustAnchors: String?

    @Option(help: "Issuer certificate (PEM: the issuer, then any intermediates up to an anchor).")
    var identityIssuerCertificate: String?

    @Option(help: "Issuer private key (PEM). The three files are watched: a replaced issuer is used from the next request.")
    var identityIssuerKey: String?

    @Option(
        help: """
            On Kubernetes: the issuer's Secret (kubernetes.io/tls) in the control plane's namespace, read and followed through the API, \
            with the anchors from ConfigMap --identity-trust-roots-configmap.
            """
    )
    var identityIssuerSecret: String?

    @Option(help: "On Kubernetes: the ConfigMap holding the trust anchors (ca-bundle.crt), with --identity-issuer-secret.")
    var identityTrustRootsConfigmap = "swiftlet-identity-trust-roots"

    @Option(help: "Write the trust anchors' certificates (PEM) here, for proxies to be started with.")
    var identityTrustAnchorsOut: String?

    @Option(help: "Local mode's service-account tokens: <dir>/<namespace>/<serviceaccount> holds each account's token.")
    var identityTokens: String?

    @Option(help: "Lifetime of workload certificates (e.g. 24h, 10s).")
    var identityCertificateLifetime = "24h"

    @Flag(
        help: """
            Serve the Destination API without TLS even with identity on (for clients without a mesh certificate). Never in a real mesh: \
            what discovery says decides which identity a proxy demands of its peer.
            """
    )
    var destinationPlaintext = false

    @Option(help: "The tap API's listen address (`swiftlet viz tap`; it answers this host only, unless --tap-certificate), or `off`.")
    var tapAddr = "127.0.0.1:8089"

    @Option(
        help: """
            With --kubernetes: the tap API's serving certificate (PEM), which makes it the API server's aggregated API \
            tap.swiftlet.io: HTTPS, answering only the API server's front proxy, each user's tap authorized by a \
            SubjectAccessReview.
            """
    )
    var tapCertificate: String?

    @Option(help: "The tap API's private key (PEM), with --tap-certificate.")
    var tapKey: String?

    @Option(
        help: """
            Local mode: run the system's `prometheus` on this address (e.g. 127.0.0.1:9090), scraping every Workload's \
            proxy (spec.adminPort) and the controller every 10 s: what `swiftlet viz stat` and the dashboard read.
            """)
    var prometheus: String?

    @Option(help: "With --prometheus: its configuration, targets, log and data (default: a new temporary directory).")
    var prometheusDir: String?

    @Option(help: "The Prometheus the dashboard reads, when not --prometheus's (one's own).")
    var prometheusUrl: String?

    @Option(help: "Serve the dashboard (`swiftlet viz dashboard`) on this address, e.g. 127.0.0.1:50750 (loopback names only).")
    var dashboard: String?

    @Option(help: "Injector webhook listen address (HTTPS), or `off`.")
    var injectorAddr = "off"

    @Option(help: "The injector's serving certificate (PEM), re-read as it changes.")
    var injectorCertificate: String?

    @Option(help: "The injector's private key (PEM).")
    var injectorKey: String?

    @Option(help: "The installed values (swiftlet-config's values.yaml): the proxy's image, resources and log level for the injector.")
    var values: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func execute() async throws {
        var config: ControllerConfig
        switch (self.manifests, self.kubernetes || self.kubeconfig != nil) {
        case (let directory?, false):
            config = ControllerConfig(manifestDirectory: directory)
        case (nil, true):
            do {
                let kubernetes: KubernetesConfig
                if let kubeconfig {
                    kubernetes = try KubernetesConfig.kubeconfig(path: kubeconfig, context: self.context)
                } else {
                    kubernetes = try KubernetesConfig.inCluster()
                }
                config = ControllerConfig(source: .kubernetes(kubernetes))
            } catch {
                throw CommandFailure("\(error)")
            }
        case (_?, true):
            throw ValidationError("--manifests and --kubernetes (or --kubeconfig) are two sources; give one")
        case (nil, false):
            throw ValidationError("give --manifests DIR (local mode) or --kubernetes (in a cluster) or --kubeconfig FILE")
        }
        (config.destinationHost, config.destinationPort) = try Self.address(self.destinationAddr, option: "--destination-addr")
        (config.adminHost, config.adminPort) = try Self.address(self.adminAddr, option: "--admin-addr")
        config.tapListen = self.tapAddr == "off" ? nil : try Self.address(self.tapAddr, option: "--tap-addr")
        switch (self.tapCertificate, self.tapKey) {
        case (let certificate?, let key?):
            guard case .kubernetes = config.source else {
                throw ValidationError(
                    "--tap-certificate serves the tap API to a Kubernetes API server: it needs --kubernetes or --kubeconfig")
            }
            config.tapServing = (certificate, key)
        case (nil, nil): break
        default: throw ValidationError("--tap-certificate and --tap-key go together")
        }
        if let prometheus {
            guard case .directory = config.source else {
                throw ValidationError(
                    "--prometheus is local mode's (with --manifests); on Kubernetes `swiftlet viz install` deploys Prometheus")
            }
            guard let binary = LocalPrometheus.Configuration.findBinary() else {
                throw CommandFailure("--prometheus: no `prometheus` on PATH (Debian: apt-get install prometheus)")
            }
            let (host, port) = try Self.address(prometheus, option: "--prometheus")
            let directory = self.prometheusDir ?? NSTemporaryDirectory() + "swiftlet-prometheus-\(getpid())"
            config.prometheus = LocalPrometheus.Configuration(binary: binary, host: host, port: port, directory: directory)
        } else if self.prometheusDir != nil {
            throw ValidationError("--prometheus-dir goes with --prometheus")
        }
        config.prometheusURL = self.prometheusUrl
        if let dashboard {
            guard self.prometheus != nil || self.prometheusUrl != nil else {
                throw ValidationError("--dashboard reads Prometheus: give --prometheus (local mode) or --prometheus-url")
            }
            config.dashboard = try Self.address(dashboard, option: "--dashboard")
        }
        config.identity = MeshIdentity(trustDomain: self.identityTrustDomain, controlPlaneNamespace: self.controlPlaneNamespace)
        config.clusterDomain = self.clusterDomain
        config.destinationPlaintext = self.destinationPlaintext
        if self.identityAddr == "off" {
            config.identityListen = nil
        } else {
            let (host, port) = try Self.address(self.identityAddr, option: "--identity-addr")
            config.identityListen = (host, port)
        }
        switch (self.identityTrustAnchors, self.identityIssuerCertificate, self.identityIssuerKey) {
        case (nil, nil, nil):
            break
        case (let anchors?, let certificate?, let key?):
            config.issuerFiles = IssuerFiles(trustAnchors: anchors, issuerCertificate: certificate, issuerKey: key)
        default:
            throw ValidationError("--identity-trust-anchors, --identity-issuer-certificate and --identity-issuer-key go together")
        }
        if let secret = self.identityIssuerSecret {
            guard case .kubernetes = config.source else {
                throw ValidationError("--identity-issuer-secret needs --kubernetes or --kubeconfig")
            }
            guard config.issuerFiles == nil else {
                throw ValidationError("--identity-issuer-secret and the --identity-* files are two sources; give one")
            }
            config.issuerSecret = IssuerSecret(
                namespace: self.controlPlaneNamespace, secret: secret, trustRoots: self.identityTrustRootsConfigmap)
        }
        config.trustAnchorsOut = self.identityTrustAnchorsOut
        if self.injectorAddr != "off" {
            guard let certificate = self.injectorCertificate, let key = self.injectorKey else {
                throw ValidationError("--injector-addr needs --injector-certificate and --injector-key")
            }
            let (host, port) = try Self.address(self.injectorAddr, option: "--injector-addr")
            config.injector = InjectorConfig(host: host, port: port, certificate: certificate, key: key)
        }
        if let values = self.values {
            do {
                config.values = try MeshValues(yaml: try String(contentsOfFile: values, encoding: .utf8))
            } catch {
                throw CommandFailure("--values \(values): \(error)")
            }
        }
        config.tokenDirectory = self.identityTokens
        do {
            let lifetime = try ProxyEnvironment.duration(self.identityCertificateLifetime).components
            config.certificateLifetime = Double(lifetime.seconds) + Double(lifetime.attoseconds) / 1e18
        } catch {
            throw ValidationError("--identity-certificate-lifetime: \(error)")
        }
        guard config.certificateLifetime >= 1 else { throw ValidationError("--identity-certificate-lifetime must be at least 1s") }
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
