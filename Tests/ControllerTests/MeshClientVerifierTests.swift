import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import Testing
import X509

@testable import Controller

/// The control plane's check of a proxy's certificate, made on every handshake against the anchors in force.
@Suite struct MeshClientVerifierTests {
    static let web = CertificateAuthorityTests.web

    static func presented(_ certificates: [Certificate]) throws -> [NIOSSLCertificate] {
        try certificates.map { certificate in
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        }
    }

    static func issue(_ authority: CertificateAuthority) throws -> CertificateAuthority.Issued {
        let csr = try CertificateAuthorityTests.csr(names: [.dnsName(Self.web)], subject: Self.web)
        return try authority.certify(Self.web, csrDER: csr)
    }

    @Test func aLeafWithItsChainIsTheWorkloadItNames() throws {
        let authority = try CertificateAuthorityTests.authority()
        let issued = try Self.issue(authority)
        let verifier = MeshClientVerifier(authority: authority)
        #expect(verifier.identity(of: try Self.presented([issued.leaf] + issued.chain)) == Self.web)
        // Without the issuer the leaf does not reach an anchor; the issuer alone is a CA, not a workload.
        #expect(verifier.identity(of: try Self.presented([issued.leaf])) == nil)
        #expect(verifier.identity(of: try Self.presented(issued.chain)) == nil)
        // Expired.
        #expect(verifier.identity(of: try Self.presented([issued.leaf] + issued.chain), now: issued.leaf.notValidAfter + 1) == nil)
    }

    /// An anchor removed by a rotation stops counting at the next handshake, with no restart.
    @Test func anAnchorRemovedFromTheAuthorityNoLongerCounts() throws {
        let authority = try CertificateAuthorityTests.authority()
        let issued = try Self.issue(authority)
        let verifier = MeshClientVerifier(authority: authority)
        authority.replace(try IssuerCredentials.generate(trustDomain: "cluster.local").credentials)
        #expect(verifier.identity(of: try Self.presented([issued.leaf] + issued.chain)) == nil)
        // The new issuer's leaves are accepted.
        let renewed = try Self.issue(authority)
        #expect(verifier.identity(of: try Self.presented([renewed.leaf] + renewed.chain)) == Self.web)
    }
}
