internal import CNIOBoringSSL
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Reading identities out of peers' certificates, and saying in words why a certificate was refused.
public enum PeerIdentity {
    /// The DNS names a certificate is issued to (its mesh identity is one of them).
    public static func dnsNames(_ certificate: NIOSSLCertificate) -> [String] {
        certificate._subjectAlternativeNames().compactMap { name in
            name.nameType == .dnsName ? String(decoding: name.contents, as: UTF8.self).lowercased() : nil
        }
    }

    /// Why BoringSSL refused `certificate` in a chain, from what can be seen of it: expired or not yet valid, or
    /// else not leading to a trusted anchor.
    public static func diagnose(_ certificate: NIOSSLCertificate) -> String {
        Self.diagnose(certificate, now: Int64(time(nil)))
    }

    /// As `diagnose(_:)`, at `now` (seconds since the epoch).
    public static func diagnose(_ certificate: NIOSSLCertificate, now: Int64) -> String {
        let name = Self.dnsNames(certificate).first ?? Self.subject(certificate)
        if Int64(certificate.notValidAfter) < now {
            return "the certificate of \(name) expired \(now - Int64(certificate.notValidAfter)) s ago"
        }
        if Int64(certificate.notValidBefore) > now {
            return "the certificate of \(name) is not valid for another \(Int64(certificate.notValidBefore) - now) s"
        }
        return "the certificate of \(name) does not chain to a trusted anchor"
    }

    static func subject(_ certificate: NIOSSLCertificate) -> String {
        guard let der = try? certificate.toDERBytes() else { return "the peer" }
        return der.withUnsafeBufferPointer { bytes -> String in
            var cursor = bytes.baseAddress
            guard let x509 = d2i_X509(nil, &cursor, bytes.count) else { return "the peer" }
            defer { X509_free(x509) }
            guard let text = X509_NAME_oneline(X509_get_subject_name(x509), nil, 0) else { return "the peer" }
            defer { OPENSSL_free(text) }
            return String(cString: text)
        }
    }
}

/// The first reason BoringSSL gave, per connection, for refusing a peer's chain: told to the client in the
/// 502's `swiftlet-proxy-error`, or logged for a refused inbound client.
public final class VerificationDiagnosis {
    public private(set) var reason: String?

    public init() {}

    /// A verification callback that records the first refusal and changes no verdict.
    public var callback: NIOSSLVerificationCallback {
        { [self] result, certificate in
            if result == .failed, self.reason == nil { self.reason = PeerIdentity.diagnose(certificate) }
            return result
        }
    }
}

@available(*, unavailable)
extension VerificationDiagnosis: Sendable {}
