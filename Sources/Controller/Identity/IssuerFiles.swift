import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// Where a user keeps the mesh's trust anchors, issuer certificate and issuer key.
public struct IssuerFiles: Sendable {
    public var trustAnchors: String
    public var issuerCertificate: String
    public var issuerKey: String

    public init(trustAnchors: String, issuerCertificate: String, issuerKey: String) {
        self.trustAnchors = trustAnchors
        self.issuerCertificate = issuerCertificate
        self.issuerKey = issuerKey
    }

    public func load() throws(IdentityError) -> IssuerCredentials {
        try IssuerCredentials.load(trustAnchors: self.trustAnchors, issuerCertificate: self.issuerCertificate, issuerKey: self.issuerKey)
    }

    var directories: Set<String> {
        Set([self.trustAnchors, self.issuerCertificate, self.issuerKey].map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
    }
}

/// Watches the issuer files and puts a changed set in force: the authority signs with it from the next request,
/// and the identity server presents a certificate from it from the next handshake. A set that does not load (a
/// half-copied key, an issuer under no anchor) is reported and the previous one stays in force.
public struct IssuerFilesWatcher: Service {
    let files: IssuerFiles
    let authority: CertificateAuthority
    let server: IdentityServer
    /// Other servers' certificates from the same issuer (the Destination API's).
    let alsoRenewed: [ServingCertificate]
    let metrics: ControllerMetrics
    let logger: Logger

    public init(
        files: IssuerFiles, authority: CertificateAuthority, server: IdentityServer, alsoRenewed: [ServingCertificate] = [],
        metrics: ControllerMetrics, logger: Logger
    ) {
        self.files = files
        self.authority = authority
        self.server = server
        self.alsoRenewed = alsoRenewed
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let watchers = try self.files.directories.sorted().map { directory throws(ManifestError) in try DirectoryWatcher(path: directory) }
        defer { for watcher in watchers { watcher.close() } }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Each directory is polled for a tenth of a second in the thread pool, so shutdown is seen promptly.
            var changed = false
            for watcher in watchers {
                let change = try? await NIOThreadPool.singleton.runIfActive { watcher.waitForChange(timeoutMilliseconds: 100 / Int32(watchers.count)) }
                changed = change != nil || changed
            }
            guard changed else { continue }
            self.reload()
        }
    }

    func reload() {
        do {
            let credentials = try self.files.load()
            let previous = self.authority.credentials
            guard try credentials.issuer.derBytes != previous.issuer.derBytes
                || credentials.trustAnchors.map({ try $0.derBytes }) != previous.trustAnchors.map({ try $0.derBytes })
            else { return }
            self.authority.replace(credentials)
            try self.server.credentialsChanged()
            for certificate in self.alsoRenewed { try certificate.renew() }
            let reloads = self.metrics.issuerReloaded()
            self.logger.notice(
                "identity credentials reloaded",
                metadata: [
                    "issuer": "\(credentials.issuer.subject)", "anchors": "\(credentials.trustAnchors.count)",
                    "issuer_expiry": "\(credentials.issuerNotValidAfter)", "reloads": "\(reloads)",
                ]
            )
        } catch {
            self.metrics.issuerReloadFailed()
            self.logger.error("identity credentials rejected; the previous ones stay in force", metadata: ["error": "\(error)"])
        }
    }
}
