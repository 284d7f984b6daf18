#if canImport(Glibc)
import Glibc
#endif
import NIOSSL
import SwiftASN1
import X509

/// Reading identities out of peers' certificates, and saying in words why a certificate was refused.
public enum PeerIdentity {
    /// The DNS names a certificate is issued to (its mesh identity is one of them).
    public static func dnsNames(_ certificate: NIOSSLCertificate) -> [String] {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der),
            let names = try? parsed.extensions.subjectAlternativeNames
        else { return [] }
        return names.compactMap { if case .dnsName(let name) = $0 { name.lowercased() } else { nil } }
    }

    /// Why BoringSSL refused `certificate` in a chain, from what can be seen of it: expired or not yet valid, or
    /// else not leading to a trusted anchor.
    public static func diagnose(_ certificate: NIOSSLCertificate, now: Int64 = Int64(time(nil))) -> String {
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
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return "the peer" }
        return "\(parsed.subject)"
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
