internal import CNIOBoringSSL
import NIOSSL

/// The proxy's private key (ECDSA P-256), made in memory and never written anywhere, and its certificate signing
/// request.
///
/// Made with the BoringSSL that NIOSSL already links (one copy of it in the proxy, not two), through its C API:
/// the proxy needs a key, one CSR and nothing else of X.509, which does not justify swift-crypto,
/// swift-certificates and the Foundation they bring (see DESIGN §3, "the proxy binary is lean").
struct ProxyKey {
    let key: NIOSSLPrivateKey
    /// A PKCS#10 request (DER) whose only name is the identity: one DNS subject alternative name, and the common name
    /// when the identity fits in one (X.509 bounds a common name at 64 characters; mesh names are often longer, and
    /// the subject is then empty, as the identity service allows).
    let signingRequest: [UInt8]
    /// The public key as a SubjectPublicKeyInfo (DER): a certificate is only ours if it carries exactly this.
    let publicKey: [UInt8]

    init(identity: String) throws(IdentityClientError) {
        guard let ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1), EC_KEY_generate_key(ec) == 1 else {
            throw IdentityClientError("cannot generate a P-256 key")
        }
        guard let pkey = EVP_PKEY_new() else {
            EC_KEY_free(ec)
            throw IdentityClientError("cannot generate a P-256 key")
        }
        defer { EVP_PKEY_free(pkey) }
        // The EVP_PKEY takes ownership of the EC_KEY.
        EVP_PKEY_assign_EC_KEY(pkey, ec)
        self.key = try Self.sslKey(pkey)
        self.publicKey = try Self.publicKey(pkey)
        self.signingRequest = try Self.signingRequest(identity: identity, key: pkey)
    }

    /// NIOSSL takes a key as bytes: serialized here in memory, handed over, and the bytes wiped.
    private static func sslKey(_ pkey: OpaquePointer) throws(IdentityClientError) -> NIOSSLPrivateKey {
        var der: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PrivateKey(pkey, &der)
        guard length > 0, let der else { throw IdentityClientError("cannot encode the private key") }
        defer {
            OPENSSL_cleanse(der, Int(length))
            OPENSSL_free(der)
        }
        var bytes = Array(UnsafeBufferPointer(start: der, count: Int(length)))
        defer { bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .der)
        } catch {
            throw IdentityClientError("NIOSSL refused the private key: \(error)")
        }
    }

    /// `ub-common-name` (RFC 5280, appendix A.1).
    static let maximumCommonName = 64

    private static func publicKey(_ pkey: OpaquePointer) throws(IdentityClientError) -> [UInt8] {
        var der: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(pkey, &der)
        guard length > 0, let der else { throw IdentityClientError("cannot encode the public key") }
        defer { OPENSSL_free(der) }
        return Array(UnsafeBufferPointer(start: der, count: Int(length)))
    }

    private static func signingRequest(identity: String, key pkey: OpaquePointer) throws(IdentityClientError) -> [UInt8] {
        guard let request = X509_REQ_new() else { throw IdentityClientError("cannot allocate a CSR") }
        defer { X509_REQ_free(request) }
        guard X509_REQ_set_version(request, Int(X509_REQ_VERSION_1)) == 1, X509_REQ_set_pubkey(request, pkey) == 1 else {
            throw IdentityClientError("cannot build a CSR for \(identity)")
        }
        if identity.utf8.count <= Self.maximumCommonName,
            X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(request), NID_commonName, MBSTRING_ASC, identity, -1, -1, 0) != 1
        {
            throw IdentityClientError("cannot put \(identity) in a CSR's subject")
        }
        guard let extensions = sk_X509_EXTENSION_new_null() else { throw IdentityClientError("cannot allocate a CSR") }
        defer { sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free) }
        guard let names = X509V3_EXT_nconf_nid(nil, nil, NID_subject_alt_name, "DNS:\(identity)") else {
            throw IdentityClientError("cannot encode \(identity) as a subject alternative name")
        }
        guard sk_X509_EXTENSION_push(extensions, names) != 0 else {
            X509_EXTENSION_free(names)
            throw IdentityClientError("cannot build a CSR for \(identity)")
        }
        guard X509_REQ_add_extensions(request, extensions) == 1, X509_REQ_sign(request, pkey, EVP_sha256()) > 0 else {
            throw IdentityClientError("cannot sign the CSR for \(identity)")
        }
        var der: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509_REQ(request, &der)
        guard length > 0, let der else { throw IdentityClientError("cannot encode the CSR") }
        defer { OPENSSL_free(der) }
        return Array(UnsafeBufferPointer(start: der, count: Int(length)))
    }
}
