import Foundation
import Yams

/// How to reach and authenticate to an API server: from a pod's service-account files (in a cluster) or from a
/// kubeconfig (outside one). Parsed once; the token is re-read from its file for each request, because the kubelet
/// rotates projected tokens in place.
public struct KubernetesConfig: Sendable {
    public enum Credential: Sendable, Hashable {
        case none
        case token(String)
        case tokenFile(String)
    }

    /// `https://host:port` (or `http://` for a local test server).
    public var server: String
    /// PEM of the CAs that sign the API server's certificate; nil: the system's roots.
    public var certificateAuthorityPEM: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    public var credential: Credential
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    /// The namespace of the context, or the pod's own in a cluster.
    public var namespace: String

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false, credential: Credential = .none,
        clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil, namespace: String = "default"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.credential = credential
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.namespace = namespace
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In a pod: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the service account's `token`, `ca.crt` and `namespace`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = Self.serviceAccountDirectory
    ) throws(KubernetesError) -> KubernetesConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty, let port = environment["KUBERNETES_SERVICE_PORT"],
            !port.isEmpty
        else {
            throw KubernetesError(.configuration, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        guard let ca = FileManager.default.contents(atPath: directory + "/ca.crt") else {
            throw KubernetesError(.configuration, "cannot read \(directory)/ca.crt")
        }
        guard FileManager.default.isReadableFile(atPath: directory + "/token") else {
            throw KubernetesError(.configuration, "cannot read \(directory)/token")
        }
        let namespace = FileManager.default.contents(atPath: directory + "/namespace").map { String(decoding: $0, as: UTF8.self) }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubernetesConfig(
            server: "https://\(hostPart):\(port)", certificateAuthorityPEM: Array(ca), credential: .tokenFile(directory + "/token"),
            namespace: namespace?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "default"
        )
    }

    /// The kubeconfig's `context` (its current context when nil). Exec and auth-provider plugins are not run:
    /// give a token or a client certificate.
    public static func kubeconfig(path: String, context wanted: String? = nil) throws(KubernetesError) -> KubernetesConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubernetesError(.configuration, "cannot read kubeconfig \(path)")
        }
        let file: Kubeconfig
        do {
            file = try YAMLDecoder().decode(Kubeconfig.self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw KubernetesError(.configuration, "kubeconfig \(path) is not valid", cause: error)
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ file: String) -> String { file.hasPrefix("/") || directory.isEmpty ? file : directory + "/" + file }
        func read(data: String?, file: String?, what: String) throws(KubernetesError) -> [UInt8]? {
            if let data {
                guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                    throw KubernetesError(.configuration, "kubeconfig \(path): \(what) data is not base64")
                }
                return Array(decoded)
            }
            guard let file else { return nil }
            guard let contents = FileManager.default.contents(atPath: resolve(file)) else {
                throw KubernetesError(.configuration, "kubeconfig \(path): cannot read \(what) \(resolve(file))")
            }
            return Array(contents)
        }
        guard let contextName = wanted ?? file.currentContext, !contextName.isEmpty else {
            throw KubernetesError(.configuration, "kubeconfig \(path) has no current-context; name one with --context")
        }
        guard let context = file.contexts?.first(where: { $0.name == contextName })?.context else {
            throw KubernetesError(.configuration, "kubeconfig \(path) has no context \"\(contextName)\"")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == context.cluster })?.cluster else {
            throw KubernetesError(
                .configuration, "kubeconfig \(path): context \"\(contextName)\" names cluster \"\(context.cluster)\", which is not there")
        }
        let user = context.user.flatMap { name in file.users?.first { $0.name == name }?.user }
        if user?.exec != nil || user?.authProvider != nil, user?.token == nil, user?.tokenFile == nil, user?.clientCertificate == nil,
            user?.clientCertificateData == nil
        {
            throw KubernetesError(
                .configuration,
                "kubeconfig \(path): user \"\(context.user ?? "")\" authenticates with a plugin, which swiftlet does not run; use a token "
                    + "or a client certificate"
            )
        }
        var credential = Credential.none
        if let token = user?.token {
            credential = .token(token)
        } else if let tokenFile = user?.tokenFile {
            credential = .tokenFile(resolve(tokenFile))
        }
        return KubernetesConfig(
            server: cluster.server,
            certificateAuthorityPEM: try read(
                data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority"),
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false, credential: credential,
            clientCertificatePEM: try read(data: user?.clientCertificateData, file: user?.clientCertificate, what: "client-certificate"),
            clientKeyPEM: try read(data: user?.clientKeyData, file: user?.clientKey, what: "client-key"),
            namespace: context.namespace ?? "default"
        )
    }

    /// What `kubectl` would use: `--kubeconfig`, else `$KUBECONFIG` (its first file), else `~/.kube/config` if it
    /// exists, else the in-cluster configuration.
    public static func resolve(
        kubeconfig: String?, context: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubernetesError) -> KubernetesConfig {
        if let kubeconfig { return try Self.kubeconfig(path: kubeconfig, context: context) }
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first {
            return try Self.kubeconfig(path: String(first), context: context)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        if FileManager.default.fileExists(atPath: home + "/.kube/config") {
            return try Self.kubeconfig(path: home + "/.kube/config", context: context)
        }
        return try Self.inCluster(environment: environment)
    }

    /// The bearer token to send now.
    func bearerToken() -> String? {
        switch self.credential {
        case .none: return nil
        case .token(let token): return token
        case .tokenFile(let file):
            return FileManager.default.contents(atPath: file).map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }
}

/// The parts of a kubeconfig file the client reads.
private struct Kubeconfig: Decodable {
    struct NamedCluster: Decodable {
        var name: String
        var cluster: Cluster
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    struct NamedUser: Decodable {
        var name: String
        var user: User
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: JSONValue?
        var authProvider: JSONValue?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    struct NamedContext: Decodable {
        var name: String
        var context: Context
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }

    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }
}
