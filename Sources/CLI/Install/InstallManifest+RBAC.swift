import Controller
import Foundation

/// What install grants and binds: the controller's roles (cluster-wide reads and reviews, its own namespace's
/// configuration by name), the front-proxy reader it binds in kube-system, and the role that lets users tap.
extension InstallManifest {
    /// Read what discovery and policy follow, and review tokens; nothing else cluster-wide.
    var clusterRole: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: swiftlet-controller
          labels:
        \(self.labels)
        rules:
        - apiGroups: [""]
          resources: [pods, services, namespaces]
          verbs: [get, list, watch]
        - apiGroups: [discovery.k8s.io]
          resources: [endpointslices]
          verbs: [get, list, watch]
        - apiGroups: [gateway.networking.k8s.io]
          resources: [httproutes, grpcroutes]
          verbs: [get, list, watch]
        - apiGroups: [gateway.networking.x-k8s.io]
          resources: [xbackendtrafficpolicies]
          verbs: [get, list, watch]
        - apiGroups: [policy.swiftlet.io]
          resources: [faultinjections]
          verbs: [get, list, watch]
        - apiGroups: [authentication.k8s.io]
          resources: [tokenreviews]
          verbs: [create]
        - apiGroups: [authorization.k8s.io]
          resources: [subjectaccessreviews]
          verbs: [create]

        """
    }

    var clusterRoleBinding: String {
        self.controllerBinding(
            kind: "ClusterRoleBinding", name: "swiftlet-controller", namespace: nil, roleKind: "ClusterRole", role: "swiftlet-controller")
    }

    /// In its own namespace the controller reads its configuration and exactly its two Secrets, by name (the issuer's
    /// it follows through the API, so a rotated issuer signs from the next request; list and watch by name need a
    /// `metadata.name` field selector, which it sends).
    var role: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: swiftlet-controller
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        rules:
        - apiGroups: [""]
          resources: [secrets]
          resourceNames: [swiftlet-identity-issuer, swiftlet-injector-tls]
          verbs: [get, list, watch]
        - apiGroups: [""]
          resources: [configmaps]
          resourceNames: [swiftlet-config, swiftlet-identity-trust-roots]
          verbs: [get, list, watch]

        """
    }

    var roleBinding: String {
        self.controllerBinding(
            kind: "RoleBinding", name: "swiftlet-controller", namespace: self.namespace, roleKind: "Role", role: "swiftlet-controller")
    }

    /// What an aggregated API server reads to trust the API server's front proxy (kube-system's
    /// extension-apiserver-authentication), through the Role Kubernetes bootstraps for it.
    var authReaderBinding: String {
        self.controllerBinding(
            kind: "RoleBinding", name: "swiftlet-controller-auth-reader", namespace: "kube-system", roleKind: "Role",
            role: "extension-apiserver-authentication-reader")
    }

    /// Who may tap: bind users to it (`kubectl create clusterrolebinding NAME --clusterrole=swiftlet-tap-admin
    /// --user=NAME`, or a RoleBinding for one namespace). The API server checks `watch` on `<kind>/tap` in
    /// tap.swiftlet.io before it forwards a tap, and the tap API asks again for the user it is given.
    var tapAdminRole: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: \(TapAggregatedAPI.adminRole)
          labels:
        \(self.labels)
        rules:
        - apiGroups: [\(TapAPIPath.group)]
          resources: ["*"]
          verbs: [watch]

        """
    }

    /// A binding of `role` to the controller's ServiceAccount; `namespace` nil for a cluster-wide one.
    func controllerBinding(kind: String, name: String, namespace: String?, roleKind: String, role: String) -> String {
        let namespaceLine = namespace.map { "\n  namespace: \(q($0))" } ?? ""
        return """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: \(kind)
            metadata:
              name: \(name)\(namespaceLine)
              labels:
            \(self.labels)
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: \(roleKind)
              name: \(role)
            subjects:
            - kind: ServiceAccount
              name: swiftlet-controller
              namespace: \(q(self.namespace))

            """
    }
}
