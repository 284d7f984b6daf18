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

    /// What an aggregated API server reads to trust the API server's front proxy (kube-system's
    /// extension-apiserver-authentication), through the Role Kubernetes bootstraps for it.
    var authReaderBinding: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: swiftlet-controller-auth-reader
          namespace: kube-system
          labels:
        \(self.labels)
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: extension-apiserver-authentication-reader
        subjects:
        - kind: ServiceAccount
          name: swiftlet-controller
          namespace: \(q(self.namespace))

        """
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

    /// The tap API as the API server's `tap.swiftlet.io/v1alpha1`: users reach it with their own credentials.
    var tapAPIService: String {
        """
        apiVersion: apiregistration.k8s.io/v1
        kind: APIService
        metadata:
          name: \(TapAPIPath.version).\(TapAPIPath.group)
          labels:
        \(self.labels)
        spec:
          group: \(TapAPIPath.group)
          version: \(TapAPIPath.version)
          groupPriorityMinimum: 1000
          versionPriority: 100
          service:
            name: swiftlet-tap
            namespace: \(q(self.namespace))
            port: 443
          caBundle: \(base64(self.credentials.tap.caPEM))

        """
    }

    var clusterRoleBinding: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: swiftlet-controller
          labels:
        \(self.labels)
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: swiftlet-controller
        subjects:
        - kind: ServiceAccount
          name: swiftlet-controller
          namespace: \(q(self.namespace))

        """
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
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: swiftlet-controller
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: swiftlet-controller
        subjects:
        - kind: ServiceAccount
          name: swiftlet-controller
          namespace: \(q(self.namespace))

        """
    }

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
        """
        apiVersion: v1
        kind: Secret
        type: kubernetes.io/tls
        metadata:
          name: swiftlet-identity-issuer
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          tls.crt: \(base64(self.credentials.issuerCertificatePEM))
          tls.key: \(base64(self.credentials.issuerKeyPEM))
          ca.crt: \(base64(self.credentials.trustAnchorsPEM))

        """
    }

    var injectorSecret: String {
        """
        apiVersion: v1
        kind: Secret
        type: kubernetes.io/tls
        metadata:
          name: swiftlet-injector-tls
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          tls.crt: \(base64(self.credentials.injectorCertificatePEM))
          tls.key: \(base64(self.credentials.injectorKeyPEM))
          ca.crt: \(base64(self.credentials.injectorCAPEM))

        """
    }

    var tapSecret: String {
        """
        apiVersion: v1
        kind: Secret
        type: kubernetes.io/tls
        metadata:
          name: swiftlet-tap-tls
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        data:
          tls.crt: \(base64(self.credentials.tap.certificatePEM))
          tls.key: \(base64(self.credentials.tap.keyPEM))
          ca.crt: \(base64(self.credentials.tap.caPEM))

        """
    }

    func service(name: String, port: Int, targetPort: Int, portName: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        spec:
          type: ClusterIP
          selector:
            swiftlet.io/control-plane-component: controller
          ports:
          - name: \(portName)
            port: \(port)
            targetPort: \(targetPort)
            protocol: TCP

        """
    }

    var deployment: String {
        let mount = "/var/run/swiftlet"
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: swiftlet-controller
              namespace: \(q(self.namespace))
              labels:
            \(self.labels)
                swiftlet.io/control-plane-component: controller
            spec:
              replicas: \(self.values.controllerReplicas)
              revisionHistoryLimit: 3
              selector:
                matchLabels:
                  swiftlet.io/control-plane-component: controller
              template:
                metadata:
                  labels:
                    app.kubernetes.io/part-of: swiftlet
                    app.kubernetes.io/version: \(q(self.values.version))
                    swiftlet.io/control-plane-component: controller
                spec:
                  serviceAccountName: swiftlet-controller
                  enableServiceLinks: false
                  securityContext:
                    runAsNonRoot: true
                    seccompProfile:
                      type: RuntimeDefault
            \(self.affinity)
                  containers:
                  - name: controller
                    image: \(q(self.values.controllerImage))
                    imagePullPolicy: \(self.values.imagePullPolicy)
                    args:
                    - controller
                    - --kubernetes
                    - --destination-addr=0.0.0.0:8086
                    - --identity-addr=0.0.0.0:8080
                    - --injector-addr=0.0.0.0:8443
                    - --admin-addr=0.0.0.0:9990
                    - \(q("--identity-trust-domain=" + self.values.trustDomain))
                    - \(q("--cluster-domain=" + self.values.clusterDomain))
                    - \(q("--control-plane-namespace=" + self.namespace))
                    - --identity-issuer-secret=swiftlet-identity-issuer
                    - --identity-trust-roots-configmap=swiftlet-identity-trust-roots
                    - --injector-certificate=\(mount)/injector/tls.crt
                    - --injector-key=\(mount)/injector/tls.key
                    - --tap-addr=0.0.0.0:8089
                    - --tap-certificate=\(mount)/tap/tls.crt
                    - --tap-key=\(mount)/tap/tls.key
                    - --values=\(mount)/config/values.yaml
                    - --log-level=\(self.values.controllerLogLevel)
                    ports:
                    - name: grpc-dst
                      containerPort: 8086
                    - name: grpc-identity
                      containerPort: 8080
                    - name: https-injector
                      containerPort: 8443
                    - name: https-tap
                      containerPort: 8089
                    - name: admin
                      containerPort: 9990
                    readinessProbe:
                      httpGet:
                        path: /ready
                        port: 9990
                      periodSeconds: 5
                    livenessProbe:
                      httpGet:
                        path: /live
                        port: 9990
                      periodSeconds: 10
                      failureThreshold: 3
            \(resources(self.values.controllerResources, indent: 8))
                    securityContext:
                      runAsUser: \(MeshValues.controllerUID)
                      runAsGroup: \(MeshValues.controllerUID)
                      runAsNonRoot: true
                      readOnlyRootFilesystem: true
                      allowPrivilegeEscalation: false
                      capabilities:
                        drop: [ALL]
                      seccompProfile:
                        type: RuntimeDefault
                    volumeMounts:
                    - name: injector-tls
                      mountPath: \(mount)/injector
                      readOnly: true
                    - name: tap-tls
                      mountPath: \(mount)/tap
                      readOnly: true
                    - name: config
                      mountPath: \(mount)/config
                      readOnly: true
                  volumes:
                  - name: injector-tls
                    secret:
                      secretName: swiftlet-injector-tls
                  - name: tap-tls
                    secret:
                      secretName: swiftlet-tap-tls
                  - name: config
                    configMap:
                      name: swiftlet-config

            """
    }

    /// With HA, no two controllers on one node: a node's loss takes at most one.
    var affinity: String {
        guard self.values.ha else { return "" }
        return """
                  affinity:
                    podAntiAffinity:
                      requiredDuringSchedulingIgnoredDuringExecution:
                      - topologyKey: kubernetes.io/hostname
                        labelSelector:
                          matchLabels:
                            swiftlet.io/control-plane-component: controller
            """
    }

    var podDisruptionBudget: String {
        """
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata:
          name: swiftlet-controller
          namespace: \(q(self.namespace))
          labels:
        \(self.labels)
        spec:
          maxUnavailable: 1
          selector:
            matchLabels:
              swiftlet.io/control-plane-component: controller

        """
    }

    /// Pods only, on creation, never the control plane's or kube-system's, never a pod already meshed, and only
    /// pods that opt in: so that with `failurePolicy: Fail` (`--ha`) a controller that cannot be reached blocks
    /// only the creation of pods that asked for the mesh, never anyone else's.
    ///
    /// Two webhooks to the one injector, because a namespace's opt-in (a label: selectors cannot see annotations)
    /// and a pod's own (an annotation, seen by a CEL `matchConditions`) are ORed, and a webhook's selectors and
    /// conditions are ANDed: pods of a namespace labelled `swiftlet.io/inject=enabled` unless they say `disabled`,
    /// and elsewhere pods that carry the annotation with any other value (`enabled`, or a value the injector then
    /// warns about). Linkerd's webhook matches every pod of the cluster.
    var webhook: String {
        let annotation = "object.metadata.annotations[\(cel(MeshLabels.inject))]"
        let hasAnnotation = "has(object.metadata.annotations) && \(cel(MeshLabels.inject)) in object.metadata.annotations"
        func hook(_ name: String, namespaceOptIn: String, condition: (name: String, expression: String)) -> String {
            """
            - name: \(name)
              admissionReviewVersions: [v1]
              sideEffects: None
              failurePolicy: \(self.values.webhookFailurePolicy)
              matchPolicy: Equivalent
              reinvocationPolicy: Never
              timeoutSeconds: 10
              clientConfig:
                service:
                  name: swiftlet-injector
                  namespace: \(q(self.namespace))
                  path: /inject
                  port: 443
                caBundle: \(base64(self.credentials.injectorCAPEM))
              namespaceSelector:
                matchExpressions:
                - key: kubernetes.io/metadata.name
                  operator: NotIn
                  values: [kube-system, \(q(self.namespace))]
                - key: \(MeshLabels.inject)
                  \(namespaceOptIn)
              objectSelector:
                matchExpressions:
                - key: \(MeshLabels.controlPlaneNamespace)
                  operator: DoesNotExist
              matchConditions:
              - name: \(condition.name)
                expression: \(q(condition.expression))
              rules:
              - operations: [CREATE]
                apiGroups: [""]
                apiVersions: [v1]
                resources: [pods]
                scope: Namespaced

            """
        }
        return """
            apiVersion: admissionregistration.k8s.io/v1
            kind: MutatingWebhookConfiguration
            metadata:
              name: swiftlet-proxy-injector
              labels:
            \(self.labels)
            webhooks:

            """
                + hook(
                    "namespace.proxy-injector.swiftlet.io", namespaceOptIn: "operator: In\n      values: [enabled]",
                    condition: ("pod-not-opted-out", "!(\(hasAnnotation)) || \(annotation) != 'disabled'")
                )
                + hook(
                    "pod.proxy-injector.swiftlet.io", namespaceOptIn: "operator: NotIn\n      values: [enabled]",
                    condition: ("pod-opted-in", "\(hasAnnotation) && \(annotation) != 'disabled'")
                )
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
