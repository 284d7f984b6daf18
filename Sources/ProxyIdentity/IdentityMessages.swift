import NIOCore
import ProxyGRPC

/// The messages of `swiftlet.identity.v1.Identity/Certify`, encoded by hand
/// (proto/swiftlet/identity/v1/identity.proto; field numbers below are that file's).
enum IdentityMessages {
    static let certifyPath = "/swiftlet.identity.v1.Identity/Certify"

    /// `CertifyRequest { identity, token, certificate_signing_request }`
    static func certifyRequest(identity: String, token: [UInt8], csr: [UInt8]) -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.write(1, string: identity)
        writer.write(2, bytes: token)
        writer.write(3, bytes: csr)
        return writer.buffer
    }
}

/// `CertifyResponse`: the leaf and its chain (DER), its expiry, and the trust anchors in force.
struct CertifyResponse: Equatable {
    var leafCertificate: [UInt8] = []
    var intermediateCertificates: [[UInt8]] = []
    /// `valid_until.seconds`.
    var validUntil: Int64 = 0
    var trustAnchors: [[UInt8]] = []

    init(decoding message: ByteBuffer) throws(ProtobufError) {
        var reader = ProtobufReader(message)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: self.leafCertificate = Array(try value.bytes.readableBytesView)
            case 2: self.intermediateCertificates.append(Array(try value.bytes.readableBytesView))
            case 3:
                var timestamp = ProtobufReader(try value.bytes)
                while let (field, value) = try timestamp.next() {
                    if field == 1 { self.validUntil = try value.int64 }
                }
            case 4: self.trustAnchors.append(Array(try value.bytes.readableBytesView))
            default: continue
            }
        }
    }
}
