import ArgumentParser
import Controller
import Crypto
import Foundation
import X509

/// `swiftlet identity`: the mesh's trust anchor and issuer, for users who bring their own.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Manages the mesh's trust anchor and identity issuer.",
        subcommands: [Generate.self]
    )

    /// Writes a fresh trust anchor and issuer (ECDSA P-256) to files, or a new issuer under an existing anchor
    /// (an issuer rotation), for `swiftlet controller --identity-*` to load.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Writes a trust anchor and an issuer (ECDSA P-256) to files: ca.crt, ca.key, issuer.crt, issuer.key.",
            discussion: """
                With --anchor-certificate and --anchor-key, writes only a new issuer signed by that anchor (to rotate the \
                issuer). Keys are written with mode 0600; keep ca.key offline.
                """
        )

        @Option(help: "Directory to write the files to (created if missing).")
        var out: String

        @Option(help: "Trust domain the anchor is named for.")
        var identityTrustDomain = "cluster.local"

        @Option(help: "Validity of the certificates, in days.")
        var days = 365

        func validate() throws {
            guard self.days > 0 else { throw ValidationError("--days: must be positive, not \(self.days)") }
        }

        @Option(help: "An existing anchor certificate (PEM): sign only a new issuer with it.")
        var anchorCertificate: String?

        @Option(help: "The existing anchor's key (PEM).")
        var anchorKey: String?

        func run() throws {
            let manager = FileManager.default
            try manager.createDirectory(atPath: self.out, withIntermediateDirectories: true)
            let validity = TimeInterval(self.days) * 24 * 3600
            let anchor: Certificate
            let anchorKey: Certificate.PrivateKey
            switch (self.anchorCertificate, self.anchorKey) {
            case (let certificatePath?, let keyPath?):
                anchor =
                    try IssuerCredentials.certificates(pem: try String(contentsOfFile: certificatePath, encoding: .utf8)).first
                    ?? { throw CommandFailure("\(certificatePath) holds no certificate") }()
                anchorKey = try Certificate.PrivateKey(pemEncoded: try String(contentsOfFile: keyPath, encoding: .utf8))
                guard anchorKey.publicKey == anchor.publicKey else {
                    throw CommandFailure("\(keyPath) is not the key of \(certificatePath)")
                }
            case (nil, nil):
                anchorKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
                anchor = try IssuerCredentials.makeCA(
                    commonName: "root.swiftlet.\(self.identityTrustDomain)", key: anchorKey, issuer: nil, validity: validity)
                try self.write(IssuerCredentials.pem([anchor]), to: "ca.crt", secret: false)
                try self.write(anchorKey.serializeAsPEM().pemString + "\n", to: "ca.key", secret: true)
            default:
                throw ValidationError("--anchor-certificate and --anchor-key go together")
            }
            let issuerKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let issuer = try IssuerCredentials.makeCA(
                commonName: "identity.swiftlet.\(self.identityTrustDomain)", key: issuerKey, issuer: (anchor, anchorKey), validity: validity
            )
            try self.write(IssuerCredentials.pem([issuer]), to: "issuer.crt", secret: false)
            try self.write(issuerKey.serializeAsPEM().pemString + "\n", to: "issuer.key", secret: true)
            print("wrote \(self.anchorCertificate == nil ? "ca.crt, ca.key, " : "")issuer.crt and issuer.key to \(self.out)")
        }

        /// Written whole and renamed into place, so a controller watching the directory never reads half a file.
        func write(_ text: String, to name: String, secret: Bool) throws {
            let path = self.out + "/" + name
            let temporary = path + ".tmp"
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644])
            else {
                throw CommandFailure("cannot write \(temporary)")
            }
            guard rename(temporary, path) == 0 else { throw CommandFailure("cannot rename \(temporary) to \(path)") }
        }
    }
}
