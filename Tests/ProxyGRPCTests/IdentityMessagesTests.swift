import NIOCore
import NIOSSL
import SwiftASN1
import SwiftProtobuf
import SwiftletAPI
import Testing
import X509

@testable import ProxyIdentity

/// The proxy's `Certify` codec, and the key and CSR it makes without swift-crypto or swift-certificates.
struct IdentityMessagesTests {
    @Test func aCertifyRequestIsEncodedAsSwiftProtobufEncodesIt() throws {
        let csr: [UInt8] = Array(0..<200).map { UInt8($0) }
        let expected: Swiftlet_Identity_V1_CertifyRequest = .with {
            $0.identity = "web.emojivoto.serviceaccount.identity.swiftlet.cluster.local"
            $0.token = .init([1, 2, 3])
            $0.certificateSigningRequest = .init(csr)
        }
        let ours = IdentityMessages.certifyRequest(identity: expected.identity, token: [1, 2, 3], csr: csr)
        #expect(Array(ours.readableBytesView) == Array(try expected.serializedBytes() as [UInt8]))
    }

    @Test func aCertifyResponseIsDecoded() throws {
        let message: Swiftlet_Identity_V1_CertifyResponse = .with {
            $0.leafCertificate = .init([0x30, 0x01])
            $0.intermediateCertificates = [.init([0x30, 0x02]), .init([0x30, 0x03])]
            $0.validUntil = .with {
                $0.seconds = 1_900_000_000; $0.nanos = 5
            }
            $0.trustAnchors = [.init([0x30, 0x04])]
        }
        let decoded = try CertifyResponse(decoding: ByteBuffer(bytes: try message.serializedBytes() as [UInt8]))
        #expect(decoded.leafCertificate == [0x30, 0x01])
        #expect(decoded.intermediateCertificates == [[0x30, 0x02], [0x30, 0x03]])
        #expect(decoded.validUntil == 1_900_000_000)
        #expect(decoded.trustAnchors == [[0x30, 0x04]])
    }

    @Test(arguments: [
        "web.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
        // 65 characters: longer than a common name may be, so the name is only in the subject alternative name.
        "vote-bot.emojivoto.serviceaccount.identity.swiftlet.cluster.local",
    ])
    func theSigningRequestNamesExactlyTheIdentityAndIsSignedByTheKey(identity: String) throws {
        let key = try ProxyKey(identity: identity)
        let csr = try CertificateSigningRequest(derEncoded: key.signingRequest)
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        #expect(csr.subject.description == (identity.count <= 64 ? "CN=\(identity)" : ""))
        let requested = try csr.attributes.extensionRequest?.extensions.subjectAlternativeNames
        #expect(requested.map(Array.init) == [.dnsName(identity)])
        // The key NIOSSL holds is the one the request is for.
        #expect(try csr.publicKey.serializeAsPEM().derBytes == key.publicKey)
        #expect(key.publicKey.count > 0)
        // And every key is new.
        #expect(try ProxyKey(identity: identity).publicKey != key.publicKey)
    }

    @Test func pemOfACertificateIsWhatOpenSSLWrites() throws {
        let der: [UInt8] = Array(0..<100).map { UInt8($0 * 7 % 256) }
        let pem = PEM.certificate(der: der)
        let document = try PEMDocument(pemString: pem)
        #expect(document.discriminator == "CERTIFICATE")
        #expect(document.derBytes == der)
        #expect(pem.split(separator: "\n").allSatisfy { $0.count <= 64 })
        for count in 0..<5 {
            #expect(try PEMDocument(pemString: PEM.certificate(der: Array(der[0..<count + 1]))).derBytes == Array(der[0..<count + 1]))
        }
    }
}
