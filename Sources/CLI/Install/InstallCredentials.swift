import Controller
import Crypto
import Foundation
import SwiftASN1
import X509

/// The certificates and keys an install carries, as PEM: the mesh's trust anchors, its issuer (certificate and
/// key), and the injector webhook's serving certificate with the CA the API server checks it against.
///
/// Generated in memory unless the user gives the anchors and issuer; a generated anchor's key is dropped as soon as
/// the issuer is signed, so it never leaves this process (a rotation then means a new anchor, which proxies accept
/// during an overlap because the trust bundle may hold several).
struct InstallCredentials: Hashable {
    var trustAnchorsPEM: String
    var issuerCertificatePEM: String
    var issuerKeyPEM: String
    var injectorCertificatePEM: String
    var injectorKeyPEM: String
    var injectorCAPEM: String
    /// The tap API's serving certificate (the API server's aggregation layer checks it against the APIService's
    /// `caBundle`, this CA).
    var tap: ServingCredentials

    /// Stand-ins for reading install's documents where their certificates do not matter (check --pre's review).
    static let placeholder = InstallCredentials(
        trustAnchorsPEM: "", issuerCertificatePEM: "", issuerKeyPEM: "", injectorCertificatePEM: "", injectorKeyPEM: "", injectorCAPEM: "",
        tap: ServingCredentials(certificatePEM: "", keyPEM: "", caPEM: "")
    )

    static let anchorValidity: TimeInterval = 10 * 365 * 24 * 3600
    static let issuerValidity: TimeInterval = 365 * 24 * 3600

    /// A fresh anchor, issuer and injector certificate.
    static func generate(values: MeshValues, now: Date = Date()) throws -> InstallCredentials {
        let anchorKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let anchor = try IssuerCredentials.makeCA(
            commonName: "root.swiftlet.\(values.trustDomain)", key: anchorKey, issuer: nil, validity: Self.anchorValidity, now: now
        )
        let issuerKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let issuer = try IssuerCredentials.makeCA(
            commonName: "identity.swiftlet.\(values.trustDomain)", key: issuerKey, issuer: (anchor, anchorKey),
            validity: Self.issuerValidity, now: now
        )
        let injector = try Self.serving(service: "swiftlet-injector", values: values, now: now)
        return InstallCredentials(
            trustAnchorsPEM: try IssuerCredentials.pem([anchor]), issuerCertificatePEM: try IssuerCredentials.pem([issuer]),
            issuerKeyPEM: try issuerKey.serializeAsPEM().pemString + "\n",
            injectorCertificatePEM: injector.certificatePEM, injectorKeyPEM: injector.keyPEM, injectorCAPEM: injector.caPEM,
            tap: try Self.serving(service: "swiftlet-tap", values: values, now: now)
        )
    }

    /// The user's anchors and issuer, checked as the controller will check them (the key is the certificate's, the
    /// issuer chains to an anchor), with a fresh injector certificate.
    static func load(trustAnchors: String, issuerCertificate: String, issuerKey: String, values: MeshValues, now: Date = Date()) throws
        -> InstallCredentials
    {
        let loaded = try IssuerCredentials.load(trustAnchors: trustAnchors, issuerCertificate: issuerCertificate, issuerKey: issuerKey)
        guard loaded.chain.allSatisfy({ $0.notValidAfter > now }) else {
            throw InstallError("\(issuerCertificate): the issuer expired on \(loaded.issuerNotValidAfter)")
        }
        let injector = try Self.serving(service: "swiftlet-injector", values: values, now: now)
        return InstallCredentials(
            trustAnchorsPEM: try IssuerCredentials.pem(loaded.trustAnchors), issuerCertificatePEM: try IssuerCredentials.pem(loaded.chain),
            issuerKeyPEM: try String(contentsOfFile: issuerKey, encoding: .utf8),
            injectorCertificatePEM: injector.certificatePEM, injectorKeyPEM: injector.keyPEM, injectorCAPEM: injector.caPEM,
            tap: try Self.serving(service: "swiftlet-tap", values: values, now: now)
        )
    }

    /// A serving certificate for the names the API server dials (`<service>.<ns>.svc`: the injector webhook, the tap
    /// API), signed by a CA of its own whose key is dropped here: the `caBundle` the API server is given trusts only
    /// this certificate.
    static func serving(service name: String, values: MeshValues, now: Date = Date()) throws -> ServingCredentials {
        let caKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let ca = try IssuerCredentials.makeCA(
            commonName: "\(name)-ca.\(values.controlPlaneNamespace)", key: caKey, issuer: nil, validity: Self.issuerValidity,
            now: now
        )
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let service = "\(name).\(values.controlPlaneNamespace).svc"
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectKeyIdentifier(hash: key.publicKey)
            if let identifier = try? ca.extensions.subjectKeyIdentifier { AuthorityKeyIdentifier(keyIdentifier: identifier.keyIdentifier) }
            SubjectAlternativeNames([.dnsName(service), .dnsName(service + "." + values.clusterDomain)])
        }
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now - 60, notValidAfter: now + Self.issuerValidity, issuer: ca.subject,
            subject: try DistinguishedName { CommonName(service) }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: caKey
        )
        return ServingCredentials(
            certificatePEM: try IssuerCredentials.pem([leaf]), keyPEM: try key.serializeAsPEM().pemString + "\n",
            caPEM: try IssuerCredentials.pem([ca]))
    }
}

/// A serving certificate, its key and the CA that signed it, as PEM.
struct ServingCredentials: Hashable {
    var certificatePEM: String
    var keyPEM: String
    var caPEM: String
}

/// A refused install, upgrade or inject: what is wrong, said once.
struct InstallError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
