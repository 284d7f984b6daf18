import Crypto
import Foundation
import SwiftASN1
import X509

/// What the identity service signs with: the trust anchors proxies verify against, the issuer (an intermediate
/// CA under one of them) and the issuer's private key.
///
/// Checked when built: the key must be the issuer certificate's, the issuer must be a CA, and its chain must end
/// at one of the anchors, so a misconfigured rotation is refused at load time rather than failing every handshake.
public struct IssuerCredentials: Sendable {
    /// Every anchor in force; more than one while an anchor is rotated.
    public let trustAnchors: [Certificate]
    public let issuer: Certificate
    /// Certificates between the issuer and its anchor (usually none), the issuer's issuer first.
    public let intermediates: [Certificate]
    let key: Certificate.PrivateKey

    public init(trustAnchors: [Certificate], issuer: Certificate, intermediates: [Certificate] = [], key: Certificate.PrivateKey)
        throws(IdentityError)
    {
        guard !trustAnchors.isEmpty else { throw IdentityError(.invalidCredentials, "no trust anchor") }
        guard key.publicKey == issuer.publicKey else {
            throw IdentityError(.invalidCredentials, "the issuer key does not belong to the issuer certificate (\(issuer.subject))")
        }
        guard Self.isCA(issuer) else {
            throw IdentityError(.invalidCredentials, "the issuer certificate (\(issuer.subject)) is not a CA (basicConstraints cA=false)")
        }
        // The issuer must chain to an anchor: through the given intermediates, each signed by the next.
        var tip = issuer
        for intermediate in intermediates {
            guard tip.issuer == intermediate.subject, intermediate.publicKey.isValidSignature(tip.signature, for: tip) else {
                throw IdentityError(
                    .invalidCredentials, "\(tip.subject) is not signed by the next certificate of the chain (\(intermediate.subject))")
            }
            tip = intermediate
        }
        guard trustAnchors.contains(where: { $0.subject == tip.issuer && $0.publicKey.isValidSignature(tip.signature, for: tip) }) else {
            throw IdentityError(
                .invalidCredentials,
                "the issuer's chain does not end at any of the \(trustAnchors.count) trust anchor(s) (\(tip.subject) is issued by "
                    + "\(tip.issuer))"
            )
        }
        self.trustAnchors = trustAnchors
        self.issuer = issuer
        self.intermediates = intermediates
        self.key = key
    }

    static func isCA(_ certificate: Certificate) -> Bool {
        guard let constraints = try? certificate.extensions.basicConstraints else { return false }
        if case .isCertificateAuthority = constraints { return true }
        return false
    }

    /// The chain a leaf is sent with: its issuer, then whatever lies between the issuer and the anchor.
    public var chain: [Certificate] { [self.issuer] + self.intermediates }

    /// When the issuer stops being valid; no leaf outlives it.
    public var issuerNotValidAfter: Date { ([self.issuer] + self.intermediates).map(\.notValidAfter).min()! }
}

extension IssuerCredentials {
    /// A fresh anchor and issuer made in memory (the demo's and a first install's default). Only the anchor's
    /// certificate is meant to leave the process.
    public static func generate(trustDomain: String, validity: TimeInterval = 365 * 24 * 3600, now: Date = Date()) throws -> (
        credentials: IssuerCredentials, anchorKey: Certificate.PrivateKey
    ) {
        let anchorKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let anchor = try Self.makeCA(
            commonName: "root.swiftlet.\(trustDomain)", key: anchorKey, issuer: nil, validity: validity, now: now
        )
        let issuerKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let issuer = try Self.makeCA(
            commonName: "identity.swiftlet.\(trustDomain)", key: issuerKey, issuer: (anchor, anchorKey), validity: validity, now: now
        )
        return (try IssuerCredentials(trustAnchors: [anchor], issuer: issuer, key: issuerKey), anchorKey)
    }

    /// A CA certificate for `key`: self-signed when `issuer` is nil (an anchor), else signed by it (an issuer).
    public static func makeCA(
        commonName: String, key: Certificate.PrivateKey, issuer: (certificate: Certificate, key: Certificate.PrivateKey)?,
        validity: TimeInterval, now: Date = Date()
    ) throws -> Certificate {
        let subject = try DistinguishedName { CommonName(commonName) }
        let extensions = try Certificate.Extensions {
            // An anchor may sign issuers; an issuer signs leaves only.
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: issuer == nil ? 1 : 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: key.publicKey)
            if let issuer, let identifier = try? issuer.certificate.extensions.subjectKeyIdentifier {
                AuthorityKeyIdentifier(keyIdentifier: identifier.keyIdentifier)
            }
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now - 60, notValidAfter: now + validity,
            issuer: issuer?.certificate.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: issuer?.key ?? key
        )
    }
}

extension IssuerCredentials {
    /// Reads the anchors (a PEM bundle), the issuer certificate (PEM: the issuer first, then any intermediates) and
    /// the issuer key (PEM, SEC1 or PKCS#8), as `swiftlet identity generate`, step or cert-manager write them.
    public static func load(trustAnchors: String, issuerCertificate: String, issuerKey: String) throws(IdentityError) -> IssuerCredentials {
        let anchors = try Self.readCertificates(trustAnchors, what: "trust anchors")
        let chain = try Self.readCertificates(issuerCertificate, what: "issuer certificate")
        let keyText: String
        do {
            keyText = try String(contentsOfFile: issuerKey, encoding: .utf8)
        } catch {
            throw IdentityError(.invalidCredentials, "\(issuerKey): cannot read the issuer key (\(error.localizedDescription))")
        }
        return try Self.assemble(anchors: anchors, chain: chain, keyPEM: keyText, keySource: issuerKey, chainSource: issuerCertificate)
    }

    /// The same from PEM texts (a Secret's `tls.crt` and `tls.key`, a ConfigMap's bundle); `source` names them in errors.
    public static func parse(trustAnchorsPEM: String, issuerCertificatePEM: String, issuerKeyPEM: String, source: String)
        throws(IdentityError) -> IssuerCredentials
    {
        func certificates(_ text: String, _ what: String) throws(IdentityError) -> [Certificate] {
            do {
                let certificates = try Self.certificates(pem: text)
                guard !certificates.isEmpty else { throw IdentityError(.invalidCredentials, "no CERTIFICATE block") }
                return certificates
            } catch {
                throw IdentityError(.invalidCredentials, "\(source): the \(what) are not PEM certificates (\(error))")
            }
        }
        return try Self.assemble(
            anchors: try certificates(trustAnchorsPEM, "trust anchors"),
            chain: try certificates(issuerCertificatePEM, "issuer certificate"),
            keyPEM: issuerKeyPEM, keySource: source, chainSource: source
        )
    }

    static func assemble(anchors: [Certificate], chain: [Certificate], keyPEM: String, keySource: String, chainSource: String)
        throws(IdentityError) -> IssuerCredentials
    {
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw IdentityError(.invalidCredentials, "\(keySource): not a PEM private key (\(error))")
        }
        do {
            return try IssuerCredentials(trustAnchors: anchors, issuer: chain[0], intermediates: Array(chain.dropFirst()), key: key)
        } catch {
            throw IdentityError(error.code, "\(chainSource): \(error.message)")
        }
    }

    static func readCertificates(_ path: String, what: String) throws(IdentityError) -> [Certificate] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw IdentityError(.invalidCredentials, "\(path): cannot read the \(what) (\(error.localizedDescription))")
        }
        do {
            let certificates = try Self.certificates(pem: text)
            guard !certificates.isEmpty else { throw IdentityError(.invalidCredentials, "no CERTIFICATE block") }
            return certificates
        } catch {
            throw IdentityError(.invalidCredentials, "\(path): the \(what) are not PEM certificates (\(error))")
        }
    }

    /// Every `CERTIFICATE` block of a PEM text, in order.
    public static func certificates(pem: String) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: pem).filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
    }

    /// Certificates as one PEM text.
    public static func pem(_ certificates: [Certificate]) throws -> String {
        try certificates.map { try $0.serializeAsPEM().pemString + "\n" }.joined()
    }
}

extension Certificate {
    /// The DER encoding.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
