import Controller
import Foundation

/// The controller itself and how it is reached: its Deployment (and PodDisruptionBudget with HA), its Services, and
/// the tap API registered with the API server.
extension InstallManifest {
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
}
