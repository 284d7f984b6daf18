import Crypto
import Foundation
import SwiftASN1
import Synchronization
import X509

/// Signs workload certificates with the current issuer. The issuer and the anchors can be replaced while running
/// (`replace`); a request signs with whichever was current when it arrived.
public final class CertificateAuthority: Sendable {
    /// A signed leaf and what goes with it in the answer.
    public struct Issued: Sendable {
        public var leaf: Certificate
        public var chain: [Certificate]
        public var trustAnchors: [Certificate]
        public var notValidAfter: Date
    }

    public let identity: MeshIdentity
    /// How long a leaf is valid (24 h by default; tests use seconds).
    public let lifetime: TimeInterval
    private let current: Mutex<IssuerCredentials>
    /// Leaves are back-dated this much, for peers whose clocks run a little behind.
    static let clockSkew: TimeInterval = 10

    public init(identity: MeshIdentity, credentials: IssuerCredentials, lifetime: TimeInterval = 24 * 3600) {
        self.identity = identity
        self.lifetime = lifetime
        self.current = Mutex(credentials)
    }

    public var credentials: IssuerCredentials { self.current.withLock { $0 } }

    /// Puts new credentials in force (a rotated issuer, or a changed anchor bundle).
    public func replace(_ credentials: IssuerCredentials) {
        self.current.withLock { $0 = credentials }
    }

    /// Signs `csrDER` for `name` if the CSR is well-formed, signed by its own key, and names exactly `name`.
    /// The caller has already checked that the requester may hold `name`.
    public func certify(_ name: String, csrDER: [UInt8], lifetime: TimeInterval? = nil, now: Date = Date()) throws(IdentityError) -> Issued
    {
        guard let (serviceAccount, namespace) = self.identity.parse(name) else {
            throw IdentityError(
                .invalidIdentity,
                "\"\(name)\" is not an identity of this mesh (\(self.identity.dnsName(serviceAccount: "<sa>", namespace: "<ns>")))")
        }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: csrDER)
        } catch {
            throw IdentityError(.invalidRequest, "the CSR is not a PKCS#10 request: \(error)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw IdentityError(.invalidRequest, "the CSR's signature does not verify with its own key")
        }
        try Self.checkNames(of: csr, are: name)
        let credentials = self.credentials
        let notValidAfter = min(now + (lifetime ?? self.lifetime), credentials.issuerNotValidAfter)
        do {
            let issuerKeyID = try credentials.issuer.extensions.subjectKeyIdentifier?.keyIdentifier
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                if let issuerKeyID { AuthorityKeyIdentifier(keyIdentifier: issuerKeyID) }
                SubjectKeyIdentifier(hash: csr.publicKey)
                Critical(
                    SubjectAlternativeNames([
                        .dnsName(name),
                        .uniformResourceIdentifier(self.identity.spiffeID(serviceAccount: serviceAccount, namespace: namespace)),
                    ]))
            }
            let leaf = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: csr.publicKey,
                notValidBefore: now - Self.clockSkew, notValidAfter: notValidAfter,
                issuer: credentials.issuer.subject, subject: try DistinguishedName { CommonName(name) },
                signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: credentials.key
            )
            return Issued(leaf: leaf, chain: credentials.chain, trustAnchors: credentials.trustAnchors, notValidAfter: notValidAfter)
        } catch {
            throw IdentityError(.internalError, "signing failed: \(error)")
        }
    }

    /// The CSR's names must be exactly `name`: one DNS subject alternative name, no other kind of name, and a
    /// subject that is empty or that name. Anything more would let a proxy ask for a second identity.
    static func checkNames(of csr: CertificateSigningRequest, are name: String) throws(IdentityError) {
        let requested: [GeneralName]
        do {
            requested =
                try csr.attributes.extensionRequest.map { request in
                    try Certificate.Extensions(request.extensions).subjectAlternativeNames.map { Array($0) } ?? []
                } ?? []
        } catch {
            throw IdentityError(.invalidRequest, "the CSR's extension request does not parse: \(error)")
        }
        guard requested == [.dnsName(name)] else {
            let names = requested.map { "\($0)" }.joined(separator: ", ")
            throw IdentityError(.invalidRequest, "the CSR must name exactly \(name) (one DNS name); it names [\(names)]")
        }
        let commonNames = csr.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
        let otherAttributes = csr.subject.flatMap { $0 }.filter { $0.type != .RDNAttributeType.commonName }
        guard otherAttributes.isEmpty, commonNames.allSatisfy({ $0 == name }) else {
            throw IdentityError(.invalidRequest, "the CSR's subject must be empty or CN=\(name); it is \(csr.subject)")
        }
    }
}
