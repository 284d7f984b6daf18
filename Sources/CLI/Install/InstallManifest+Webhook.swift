import Controller
import Foundation

/// The injector webhook, last in install's order so that it never points at a controller that does not exist yet.
extension InstallManifest {
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
