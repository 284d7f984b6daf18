import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import Controller

@Suite struct CertificateAuthorityTests {
    static let mesh = MeshIdentity(trustDomain: "cluster.local", controlPlaneNamespace: "swiftlet")
    static let web = "web.emojivoto.serviceaccount.identity.swiftlet.cluster.local"

    static func authority(lifetime: TimeInterval = 24 * 3600) throws -> CertificateAuthority {
        CertificateAuthority(
            identity: mesh, credentials: try IssuerCredentials.generate(trustDomain: "cluster.local").credentials, lifetime: lifetime)
    }

    /// A CSR as a proxy makes it, with whatever names the test wants to ask for.
    static func csr(names: [GeneralName], subject: String? = nil, key: P256.Signing.PrivateKey = .init()) throws -> [UInt8] {
        let extensions = try Certificate.Extensions { SubjectAlternativeNames(names) }
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { if let subject { CommonName(subject) } },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        return serializer.serializedBytes
    }

    @Test func aLeafNamesTheIdentityAsDNSAndSPIFFEAndIsSignedByTheIssuer() throws {
        let authority = try Self.authority(lifetime: 3600)
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let issued = try authority.certify(
            Self.web, csrDER: try Self.csr(names: [.dnsName(Self.web)], subject: Self.web, key: key), now: now)
        let leaf = issued.leaf
        #expect(
            Array(try leaf.extensions.subjectAlternativeNames!) == [
                .dnsName(Self.web), .uniformResourceIdentifier("spiffe://cluster.local/ns/emojivoto/sa/web"),
            ])
        #expect(leaf.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions.extendedKeyUsage.map(Array.init) == [.serverAuth, .clientAuth])
        #expect(abs(leaf.notValidAfter.timeIntervalSince(now) - 3600) < 1)
        #expect(leaf.notValidBefore < now)
        #expect(leaf.issuer == authority.credentials.issuer.subject)
        #expect(authority.credentials.issuer.publicKey.isValidSignature(leaf.signature, for: leaf))
        #expect(issued.chain.map(\.subject) == [authority.credentials.issuer.subject])
        #expect(issued.trustAnchors.count == 1)
    }

    @Test func noLeafOutlivesItsIssuer() throws {
        let now = Date()
        let credentials = try IssuerCredentials.generate(trustDomain: "cluster.local", validity: 600, now: now).credentials
        let authority = CertificateAuthority(identity: Self.mesh, credentials: credentials, lifetime: 24 * 3600)
        let issued = try authority.certify(Self.web, csrDER: try Self.csr(names: [.dnsName(Self.web)]), now: now)
        #expect(issued.leaf.notValidAfter <= credentials.issuerNotValidAfter)
    }

    @Test(arguments: [
        [
            GeneralName.dnsName("web.emojivoto.serviceaccount.identity.swiftlet.cluster.local"),
            .dnsName("admin.kube-system.serviceaccount.identity.swiftlet.cluster.local"),
        ],
        [GeneralName.dnsName("voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local")],
        [
            GeneralName.dnsName("web.emojivoto.serviceaccount.identity.swiftlet.cluster.local"),
            .uniformResourceIdentifier("spiffe://cluster.local/ns/kube-system/sa/admin"),
        ],
        [],
    ])
    func aCSRMustNameExactlyTheIdentityAskedFor(names: [GeneralName]) throws {
        let authority = try Self.authority()
        #expect {
            try authority.certify(Self.web, csrDER: try Self.csr(names: names))
        } throws: { ($0 as? IdentityError)?.code == .invalidRequest }
    }

    @Test func aCSRWhoseSubjectNamesSomethingElseIsRefused() throws {
        let authority = try Self.authority()
        #expect {
            try authority.certify(Self.web, csrDER: try Self.csr(names: [.dnsName(Self.web)], subject: "admin"))
        } throws: { ($0 as? IdentityError)?.code == .invalidRequest }
    }

    @Test func aCSRWithABrokenSignatureIsRefused() throws {
        var der = try Self.csr(names: [.dnsName(Self.web)])
        der[der.count - 5] ^= 0x01
        let authority = try Self.authority()
        #expect {
            try authority.certify(Self.web, csrDER: der)
        } throws: { ($0 as? IdentityError)?.code == .invalidRequest }
    }

    @Test(arguments: [
        "web.emojivoto.serviceaccount.identity.swiftlet.example.org", "web.emojivoto.serviceaccount.identity.linkerd.cluster.local",
        "web.emojivoto.svc.cluster.local", "emojivoto.serviceaccount.identity.swiftlet.cluster.local",
    ])
    func namesOfAnotherMeshAreRefused(name: String) throws {
        let authority = try Self.authority()
        #expect {
            try authority.certify(name, csrDER: try Self.csr(names: [.dnsName(name)]))
        } throws: { ($0 as? IdentityError)?.code == .invalidIdentity }
    }

    @Test func identityNamesParseWithDottedServiceAccounts() {
        #expect(Self.mesh.parse(Self.web)! == ("web", "emojivoto"))
        #expect(Self.mesh.parse("a.b.ns.serviceaccount.identity.swiftlet.cluster.local")! == ("a.b", "ns"))
        #expect(Self.mesh.parse("..ns.serviceaccount.identity.swiftlet.cluster.local") == nil)
        #expect(Self.mesh.parse("Web.emojivoto.serviceaccount.identity.swiftlet.cluster.local") == nil)
    }

    @Test func anIssuerUnderNoTrustedAnchorIsRefusedAtLoad() throws {
        let first = try IssuerCredentials.generate(trustDomain: "cluster.local").credentials
        let second = try IssuerCredentials.generate(trustDomain: "cluster.local")
        #expect {
            try IssuerCredentials(trustAnchors: first.trustAnchors, issuer: second.credentials.issuer, key: second.credentials.key)
        } throws: { ($0 as? IdentityError)?.code == .invalidCredentials }
        // With both anchors in the bundle (a rotation in progress) it is accepted.
        _ = try IssuerCredentials(
            trustAnchors: first.trustAnchors + second.credentials.trustAnchors, issuer: second.credentials.issuer,
            key: second.credentials.key)
    }

    @Test func anIssuerKeyThatIsNotTheCertificatesIsRefusedAtLoad() throws {
        let credentials = try IssuerCredentials.generate(trustDomain: "cluster.local").credentials
        #expect {
            try IssuerCredentials(
                trustAnchors: credentials.trustAnchors, issuer: credentials.issuer, key: Certificate.PrivateKey(P256.Signing.PrivateKey()))
        } throws: { ($0 as? IdentityError)?.code == .invalidCredentials }
    }
}

@Suite struct LocalTokenReviewerTests {
    @Test func aTokenProvesOnlyItsOwnServiceAccount() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/emojivoto", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\n".write(toFile: directory + "/emojivoto/web", atomically: true, encoding: .utf8)
        let reviewer = LocalTokenReviewer(directory: directory)
        try await reviewer.review(token: Array("s3cret".utf8), serviceAccount: "web", namespace: "emojivoto")
        await #expect { try await reviewer.review(token: Array("s3cre".utf8), serviceAccount: "web", namespace: "emojivoto") } throws: {
            ($0 as? IdentityError)?.code == .unauthenticated
        }
        await #expect { try await reviewer.review(token: Array("s3cret".utf8), serviceAccount: "voting", namespace: "emojivoto") } throws: {
            ($0 as? IdentityError)?.code == .unauthenticated
        }
        await #expect { try await reviewer.review(token: [], serviceAccount: "web", namespace: "emojivoto") } throws: {
            ($0 as? IdentityError)?.code == .unauthenticated
        }
    }
}
