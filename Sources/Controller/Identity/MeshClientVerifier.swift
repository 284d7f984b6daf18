import Foundation
import NIOSSL
import X509

/// Checks the certificate a proxy presents to the control plane against the trust anchors in force at that
/// moment, read from the authority on every handshake: an anchor added or removed by a rotation counts from the
/// next connection, with no restart (a TLS configuration's trust roots are fixed when it is built).
///
/// The chain must run from an unexpired leaf that is not a CA, through unexpired CAs the client sent, each
/// signing the one below, to one of the anchors; and the leaf must name an identity of this mesh.
public struct MeshClientVerifier: Sendable {
    let authority: CertificateAuthority

    public init(authority: CertificateAuthority) {
        self.authority = authority
    }

    /// The client's mesh identity when its chain holds, or `nil`.
    public func identity(of presented: [NIOSSLCertificate], now: Date = Date()) -> String? {
        guard let chain = try? presented.map({ try Certificate(derEncoded: try $0.toDERBytes()) }), let leaf = chain.first,
            Self.isCurrent(leaf, now), !IssuerCredentials.isCA(leaf)
        else { return nil }
        let anchors = self.authority.credentials.trustAnchors
        var tip = leaf
        var intermediates = Array(chain.dropFirst())
        // Bounded by the certificates sent: each step uses one up.
        while true {
            if anchors.contains(where: { Self.signs($0, tip, now) }) { break }
            guard let next = intermediates.firstIndex(where: { IssuerCredentials.isCA($0) && Self.signs($0, tip, now) }) else { return nil }
            tip = intermediates.remove(at: next)
        }
        let names =
            (try? leaf.extensions.subjectAlternativeNames)??.compactMap { name -> String? in
                if case .dnsName(let dns) = name { return dns }
                return nil
            } ?? []
        return names.first { self.authority.identity.parse($0) != nil }
    }

    /// For NIOSSL's custom verification (which replaces BoringSSL's own): verified or failed.
    public func verify(_ presented: [NIOSSLCertificate]) -> NIOSSLVerificationResultWithMetadata {
        self.identity(of: presented) == nil ? .failed : .certificateVerified(VerificationMetadata(nil))
    }

    static func signs(_ issuer: Certificate, _ certificate: Certificate, _ now: Date) -> Bool {
        issuer.subject == certificate.issuer && Self.isCurrent(issuer, now)
            && issuer.publicKey.isValidSignature(certificate.signature, for: certificate)
    }

    static func isCurrent(_ certificate: Certificate, _ now: Date) -> Bool {
        certificate.notValidBefore <= now && now <= certificate.notValidAfter
    }
}
