import Foundation
import Kubernetes
import Logging
import ServiceLifecycle

/// Where the issuer lives on a cluster: a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) and the anchors'
/// ConfigMap (`ca-bundle.crt`), both in the control plane's namespace.
public struct IssuerSecret: Sendable {
    public var namespace: String
    public var secret: String
    public var trustRoots: String

    public init(namespace: String, secret: String = "swiftlet-identity-issuer", trustRoots: String = "swiftlet-identity-trust-roots") {
        self.namespace = namespace
        self.secret = secret
        self.trustRoots = trustRoots
    }

    /// Reads both objects and the credentials they hold.
    public func load(_ client: KubernetesClient) async throws(IdentityError) -> IssuerCredentials {
        let secret: GenericObject
        let trustRoots: GenericObject
        do {
            secret = try await client.get(ResourcePath.secrets.inNamespace(self.namespace).path(name: self.secret), as: GenericObject.self)
            trustRoots = try await client.get(
                ResourcePath.configMaps.inNamespace(self.namespace).path(name: self.trustRoots), as: GenericObject.self)
        } catch {
            throw IdentityError(
                .unavailable,
                "cannot read Secret \(self.namespace)/\(self.secret) or ConfigMap \(self.namespace)/\(self.trustRoots): \(error)")
        }
        func data(_ key: String) throws(IdentityError) -> String {
            guard let text = secret.secretText(key) else {
                throw IdentityError(.invalidCredentials, "Secret \(self.namespace)/\(self.secret) has no base64 data key \(key)")
            }
            return text
        }
        guard let anchors = trustRoots.json["data"]?["ca-bundle.crt"]?.stringValue else {
            throw IdentityError(.invalidCredentials, "ConfigMap \(self.namespace)/\(self.trustRoots) has no data key ca-bundle.crt")
        }
        return try IssuerCredentials.parse(
            trustAnchorsPEM: anchors, issuerCertificatePEM: try data("tls.crt"), issuerKeyPEM: try data("tls.key"),
            source: "Secret \(self.namespace)/\(self.secret)"
        )
    }
}

/// Follows the issuer's Secret and the anchors' ConfigMap through the API (list and watch, each by name) and puts
/// a changed pair in force from the next request: a rotated issuer signs without a restart, and sooner than a
/// mounted Secret, which the kubelet refreshes only every minute or so.
public struct IssuerSecretWatcher: Service {
    let source: IssuerSecret
    let client: KubernetesClient
    let installer: IssuerInstaller
    let logger: Logger

    public init(source: IssuerSecret, client: KubernetesClient, installer: IssuerInstaller, logger: Logger) {
        self.source = source
        self.client = client
        self.installer = installer
        self.logger = logger
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.follow(.secrets, name: self.source.secret) }
            group.addTask { await self.follow(.configMaps, name: self.source.trustRoots) }
        }
    }

    func reload() async {
        do {
            let credentials = try await self.source.load(self.client)
            self.installer.install(from: "Secret \(self.source.namespace)/\(self.source.secret)") { () throws(IdentityError) in credentials
            }
        } catch {
            self.installer.install(from: "Secret \(self.source.namespace)/\(self.source.secret)") { () throws(IdentityError) in throw error
            }
        }
    }

    /// Lists (by name) and watches one object, reloading on every change of it; 410 lists again, other failures
    /// back off as the cluster source does.
    func follow(_ resource: ResourcePath, name: String) async {
        let scoped = resource.inNamespace(self.source.namespace)
        let selector = "metadata.name=\(name)"
        var version: String? = nil
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if version == nil {
                    version = try await self.client.list(scoped, fieldSelector: selector, as: GenericObject.self).resourceVersion
                    await self.reload()
                }
                var changed = false
                try await self.client.watch(
                    scoped, from: version!, fieldSelector: selector, timeoutSeconds: Int.random(in: 240...360), as: GenericObject.self
                ) { events in
                    for event in events {
                        if case .bookmark = event {} else { changed = true }
                        if let next = event.resourceVersion, !next.isEmpty { version = next }
                    }
                    if changed {
                        changed = false
                        await self.reload()
                    }
                }
                failures = 0
            } catch let error as KubernetesError where error.code == .gone {
                version = nil
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let delay = KubernetesSource.backoff(failures: failures)
                self.logger.log(
                    level: failures == 1 ? .info : .warning, "following the issuer failed; trying again",
                    metadata: ["resource": "\(scoped)", "error": "\(error)", "retry_in_ms": "\(delay)"]
                )
                try? await Task.sleep(for: .milliseconds(delay))
            }
        }
    }
}
