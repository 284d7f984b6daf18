import Kubernetes
import MeshModel

/// How `swiftlet controller` runs; parsed once from the command line.
public struct ControllerConfig: Sendable {
    /// Where the cluster's objects come from.
    public enum Source: Sendable {
        /// A directory of YAML documents (`FileSource`): local mode.
        case directory(String)
        /// The Kubernetes API (`KubernetesSource`); its TokenReview checks proxies' tokens.
        case kubernetes(KubernetesConfig)
    }

    public var source: Source
    public var destinationHost = "0.0.0.0"
    public var destinationPort = 8086
    public var adminHost = "0.0.0.0"
    public var adminPort = 9990
    /// The tap API's listener (`TapAPIServer`); `nil` runs none. Loopback: it answers this host only.
    public var tapListen: (host: String, port: Int)? = ("127.0.0.1", 8089)
    /// On Kubernetes: the tap API's serving certificate and key (files), which make it the aggregated API
    /// `tap.swiftlet.io` (TLS, the API server's front proxy only, each user authorized by a SubjectAccessReview).
    public var tapServing: (certificate: String, key: String)?
    public var identity = MeshIdentity()
    public var clusterDomain = "cluster.local"
    /// The Identity API's listener; `nil` runs no identity service.
    public var identityListen: (host: String, port: Int)? = ("0.0.0.0", 8080)
    /// The user's anchors and issuer; `nil` makes a fresh pair in memory (local mode, the demo).
    public var issuerFiles: IssuerFiles?
    /// On Kubernetes: the issuer's Secret and the anchors' ConfigMap, read and followed through the API.
    public var issuerSecret: IssuerSecret?
    /// Where to write the trust anchors' certificates (PEM) once loaded or made, for proxies to be started with.
    public var trustAnchorsOut: String?
    /// Local mode's service-account tokens (`LocalTokenReviewer`); without them (and not on Kubernetes) no
    /// certificate is issued.
    public var tokenDirectory: String?
    /// Serve the Destination API in plaintext even with the identity service on (clients without a mesh
    /// certificate: tests of discovery alone, tools). Otherwise it is mTLS whenever identity is on.
    public var destinationPlaintext = false
    /// The injector webhook's listener and serving certificate; `nil` runs no injector.
    public var injector: InjectorConfig?
    /// The installed mesh's values (ConfigMap `swiftlet-config`): what the injector builds proxies from.
    public var values = MeshValues(version: SwiftletVersion.current)
    /// Local mode: the system's Prometheus, run beside the controller and kept pointed at every proxy.
    public var prometheus: LocalPrometheus.Configuration?
    /// The Prometheus the dashboard reads, when it is not `prometheus` (one's own).
    public var prometheusURL: String?
    /// The dashboard's listener (`DashboardServer`); `nil` runs none.
    public var dashboard: (host: String, port: Int)?
    /// How long workload certificates are valid.
    public var certificateLifetime: Double = 24 * 3600

    public init(source: Source) {
        self.source = source
    }

    public init(manifestDirectory: String) {
        self.source = .directory(manifestDirectory)
    }
}

/// Where the injector webhook listens and the files of its serving certificate (re-read as they change).
public struct InjectorConfig: Sendable {
    public var host: String
    public var port: Int
    public var certificate: String
    public var key: String

    public init(host: String, port: Int, certificate: String, key: String) {
        self.host = host
        self.port = port
        self.certificate = certificate
        self.key = key
    }
}
