import Controller
import Foundation

/// What install configures the controller with: its values, the trust anchors, and its three Secrets (the issuer,
/// and the serving certificates of the injector webhook and the tap API).
extension InstallManifest {
    /// The install's values, which the injector builds proxies from and `upgrade` starts from.
    var configMap: String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: swiftlet-config
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          values.yaml: \(block(self.values.yaml, indent: 4))
        """
    }

    var trustRoots: String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: swiftlet-identity-trust-roots
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          ca-bundle.crt: \(block(self.credentials.trustAnchorsPEM, indent: 4))
        """
    }

    var issuerSecret: String {
        self.tlsSecret(
            "swiftlet-identity-issuer", certificate: self.credentials.issuerCertificatePEM, key: self.credentials.issuerKeyPEM,
            ca: self.credentials.trustAnchorsPEM)
    }

    var injectorSecret: String {
        self.tlsSecret(
            "swiftlet-injector-tls", certificate: self.credentials.injectorCertificatePEM, key: self.credentials.injectorKeyPEM,
            ca: self.credentials.injectorCAPEM)
    }

    var tapSecret: String {
        self.tlsSecret(
            "swiftlet-tap-tls", certificate: self.credentials.tap.certificatePEM, key: self.credentials.tap.keyPEM,
            ca: self.credentials.tap.caPEM)
    }

    /// A `kubernetes.io/tls` Secret: a certificate, its key, and the CA it is checked against.
    func tlsSecret(_ name: String, certificate: String, key: String, ca: String) -> String {
        """
        apiVersion: v1
        kind: Secret
        type: kubernetes.io/tls
        metadata:
          name: \(name)
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          tls.crt: \(base64(certificate))
          tls.key: \(base64(key))
          ca.crt: \(base64(ca))

        """
    }
}
