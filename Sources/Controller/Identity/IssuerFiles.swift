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

/// Watches the issuer files and puts a changed set in force (`IssuerInstaller`). A set that does not load (a
/// half-copied key, an issuer under no anchor) is reported and the previous one stays in force.
public struct IssuerFilesWatcher: Service {
    let files: IssuerFiles
    let installer: IssuerInstaller

    public init(files: IssuerFiles, installer: IssuerInstaller) {
        self.files = files
        self.installer = installer
    }

    public func run() async throws {
        let watchers = try self.files.directories.sorted().map { directory throws(ManifestError) in try DirectoryWatcher(path: directory) }
        defer { for watcher in watchers { watcher.close() } }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Each directory is polled for a tenth of a second in the thread pool, so shutdown is seen promptly.
            var changed = false
            for watcher in watchers {
                let change = try? await NIOThreadPool.singleton.runIfActive {
                    watcher.waitForChange(timeoutMilliseconds: 100 / Int32(watchers.count))
                }
                changed = change != nil || changed
            }
            guard changed else { continue }
            self.installer.install(from: "files") { () throws(IdentityError) in try self.files.load() }
        }
    }
}

/// Puts changed identity credentials in force: the authority signs with them from the next request, and the
/// identity server (and the Destination API) present a certificate from them from the next handshake. Credentials
/// that do not load are reported and the previous ones stay in force.
public struct IssuerInstaller: Sendable {
    let authority: CertificateAuthority
    let server: IdentityServer
    /// Other servers' certificates from the same issuer (the Destination API's).
    let alsoRenewed: [ServingCertificate]
    let metrics: ControllerMetrics
    let logger: Logger

    public init(
        authority: CertificateAuthority, server: IdentityServer, alsoRenewed: [ServingCertificate] = [], metrics: ControllerMetrics,
        logger: Logger
    ) {
        self.authority = authority
        self.server = server
        self.alsoRenewed = alsoRenewed
        self.metrics = metrics
        self.logger = logger
    }

    public func install(from source: String, _ load: () throws(IdentityError) -> IssuerCredentials) {
        do {
            let credentials = try load()
            let previous = self.authority.credentials
            guard
                try credentials.issuer.derBytes != previous.issuer.derBytes
                    || credentials.trustAnchors.map({ try $0.derBytes }) != previous.trustAnchors.map({ try $0.derBytes })
            else { return }
            self.authority.replace(credentials)
            try self.server.credentialsChanged()
            for certificate in self.alsoRenewed { try certificate.renew() }
            let reloads = self.metrics.issuerReloaded()
            self.logger.notice(
                "identity credentials reloaded",
                metadata: [
                    "from": "\(source)", "issuer": "\(credentials.issuer.subject)", "anchors": "\(credentials.trustAnchors.count)",
                    "issuer_expiry": "\(credentials.issuerNotValidAfter)", "reloads": "\(reloads)",
                ]
            )
        } catch {
            self.metrics.issuerReloadFailed()
            self.logger.error(
                "identity credentials rejected; the previous ones stay in force", metadata: ["from": "\(source)", "error": "\(error)"])
        }
    }
}
