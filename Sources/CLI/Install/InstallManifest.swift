import Controller
import Foundation
import Kubernetes

/// Everything `swiftlet install` prints, one YAML document per function, in the order `kubectl apply` needs them
/// (the namespace and the CRD before what lives in them, the webhook last so that it never points at a controller
/// that does not exist yet).
///
/// Written as text templates on purpose: a document reads like the YAML a user will see in the cluster, and the
/// compiler handles string interpolation in no time (literal trees of nested values took it minutes). Every value
/// interpolated goes through `q` (a JSON string, which YAML reads as a double-quoted scalar) or `block`.
struct InstallManifest {
    var values: MeshValues
    var credentials: InstallCredentials

    var namespace: String { self.values.controlPlaneNamespace }

    /// The documents as YAML text, in apply order.
    var documents: [String] {
        var documents = [
            self.namespaceDocument, FaultInjectionCRD.document, self.serviceAccount, self.clusterRole, self.clusterRoleBinding,
            self.role, self.roleBinding, self.authReaderBinding, self.tapAdminRole, self.configMap, self.trustRoots, self.issuerSecret,
            self.injectorSecret, self.tapSecret,
            self.service(name: "swiftlet-dst", port: 8086, targetPort: 8086, portName: "grpc"),
            self.service(name: "swiftlet-identity", port: 8080, targetPort: 8080, portName: "grpc"),
            self.service(name: "swiftlet-injector", port: 443, targetPort: 8443, portName: "https"),
            self.service(name: "swiftlet-tap", port: 443, targetPort: 8089, portName: "https"),
            self.deployment,
        ]
        if self.values.ha { documents.append(self.podDisruptionBudget) }
        documents.append(self.tapAPIService)
        documents.append(self.webhook)
        return documents
    }

    /// The objects `uninstall` deletes: the webhook first (so no pod creation waits on a controller going away),
    /// the cluster-wide objects, then the namespace with everything in it.
    static func uninstallDocuments(namespace: String) -> [String] {
        [
            "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: swiftlet-proxy-injector\n",
            "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1alpha1.tap.swiftlet.io\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: swiftlet-tap-admin\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: swiftlet-controller-auth-reader\n"
                + "  namespace: kube-system\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: swiftlet-controller\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: swiftlet-controller\n",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: faultinjections.policy.swiftlet.io\n",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(q(namespace))\n",
        ]
    }

    var labels: String {
        """
            app.kubernetes.io/part-of: swiftlet
            app.kubernetes.io/version: \(q(self.values.version))
        """
    }

    var namespaceDocument: String {
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: \(q(self.namespace))
          labels:
        \(self.labels)
            pod-security.kubernetes.io/enforce: restricted
          annotations:
            \(MeshLabels.inject): disabled

        """
    }

    var serviceAccount: String {
        """
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: swiftlet-controller
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)

        """
    }

}

/// A CEL string literal (single-quoted).
func cel(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}

/// A JSON string literal, which YAML reads as a double-quoted scalar: safe for any value.
func q(_ text: String) -> String { DocumentStream.quoted(text) }

func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

/// A literal block scalar (`|`) whose lines are indented by `indent` spaces; keeps a PEM's line breaks.
func block(_ text: String, indent: Int) -> String {
    let pad = String(repeating: " ", count: indent)
    let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
    return "|\n" + body.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 + "\n" }.joined()
}

/// A container's `resources:` (requests and limits that are set), indented by `indent` spaces; empty when none.
func resources(_ resources: MeshValues.Resources, indent: Int) -> String {
    let pad = String(repeating: " ", count: indent)
    var requests = ""
    if !resources.cpuRequest.isEmpty { requests += "\(pad)    cpu: \(q(resources.cpuRequest))\n" }
    if !resources.memoryRequest.isEmpty { requests += "\(pad)    memory: \(q(resources.memoryRequest))\n" }
    var limits = ""
    if !resources.cpuLimit.isEmpty { limits += "\(pad)    cpu: \(q(resources.cpuLimit))\n" }
    if !resources.memoryLimit.isEmpty { limits += "\(pad)    memory: \(q(resources.memoryLimit))\n" }
    guard !requests.isEmpty || !limits.isEmpty else { return "" }
    var text = "\(pad)resources:\n"
    if !requests.isEmpty { text += "\(pad)  requests:\n" + requests }
    if !limits.isEmpty { text += "\(pad)  limits:\n" + limits }
    return String(text.dropLast())
}
