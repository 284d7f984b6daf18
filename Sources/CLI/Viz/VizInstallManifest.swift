import Controller

/// What `swiftlet viz install` prints: viz's namespace and its Prometheus (configuration, RBAC to discover pods,
/// retention, resource requests, a restricted security context), or with `--prometheus-url` only the namespace and
/// the address of one's own. The tap API is `swiftlet install`'s already (an aggregated API of the controller).
struct VizInstallManifest {
    var namespace = "swiftlet-viz"
    var controlPlaneNamespace = "swiftlet"
    /// One's own Prometheus: none is deployed.
    var prometheusURL: String?
    var image = "docker.io/prom/prometheus:v2.55.1"
    var retention = "6h"

    var documents: [String] {
        var documents = [self.namespaceDocument, self.configMap]
        if self.prometheusURL == nil {
            documents += [
                self.serviceAccount, self.clusterRole, self.clusterRoleBinding, self.prometheusConfig, self.service, self.deployment,
            ]
        }
        return documents
    }

    var labels: String {
        """
            app.kubernetes.io/part-of: swiftlet-viz
        """
    }

    /// `metadata:` of an object of this namespace (nil: a cluster-wide one), with viz's labels.
    func metadata(_ name: String, namespaced: Bool = true) -> String {
        """
        metadata:
          name: \(q(name))\(namespaced ? "\n  namespace: \(q(self.namespace))" : "")
          labels:
        \(self.labels)
        """
    }

    /// Where viz's commands and dashboard read metrics.
    var url: String { self.prometheusURL ?? "http://prometheus.\(self.namespace).svc:9090" }

    var namespaceDocument: String {
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: \(q(self.namespace))
          labels:
        \(self.labels)
            pod-security.kubernetes.io/enforce: restricted

        """
    }

    var configMap: String {
        """
        apiVersion: v1
        kind: ConfigMap
        \(self.metadata("swiftlet-viz-config"))
        data:
          prometheusURL: \(q(self.url))

        """
    }

    var serviceAccount: String {
        """
        apiVersion: v1
        kind: ServiceAccount
        \(self.metadata("prometheus"))

        """
    }

    /// Kubernetes discovery of pods: what the scrape jobs need, nothing more.
    var clusterRole: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        \(self.metadata("swiftlet-viz-prometheus", namespaced: false))
        rules:
        - apiGroups: [""]
          resources: [pods]
          verbs: [get, list, watch]

        """
    }

    var clusterRoleBinding: String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        \(self.metadata("swiftlet-viz-prometheus", namespaced: false))
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: swiftlet-viz-prometheus
        subjects:
        - kind: ServiceAccount
          name: prometheus
          namespace: \(q(self.namespace))

        """
    }

    var prometheusConfig: String {
        """
        apiVersion: v1
        kind: ConfigMap
        \(self.metadata("prometheus-config"))
        data:
          prometheus.yml: \(block(PrometheusScrapeConfig.kubernetes(controlPlaneNamespace: self.controlPlaneNamespace), indent: 4))
        """
    }

    var service: String {
        """
        apiVersion: v1
        kind: Service
        \(self.metadata("prometheus"))
        spec:
          selector:
            swiftlet.io/viz-component: prometheus
          ports:
          - name: http
            port: 9090
            targetPort: 9090

        """
    }

    var deployment: String {
        """
        apiVersion: apps/v1
        kind: Deployment
        \(self.metadata("prometheus"))
        spec:
          replicas: 1
          selector:
            matchLabels:
              swiftlet.io/viz-component: prometheus
          template:
            metadata:
              labels:
                app.kubernetes.io/part-of: swiftlet-viz
                swiftlet.io/viz-component: prometheus
              annotations:
                # Prometheus is not meshed: it scrapes every proxy's admin port, which answers plain HTTP.
                swiftlet.io/inject: disabled
            spec:
              serviceAccountName: prometheus
              securityContext:
                runAsNonRoot: true
                runAsUser: 65534
                runAsGroup: 65534
                fsGroup: 65534
                seccompProfile:
                  type: RuntimeDefault
              containers:
              - name: prometheus
                image: \(q(self.image))
                args:
                - --config.file=/etc/prometheus/prometheus.yml
                - --storage.tsdb.path=/data
                - \(q("--storage.tsdb.retention.time=" + self.retention))
                - --web.listen-address=0.0.0.0:9090
                - --log.level=warn
                ports:
                - name: http
                  containerPort: 9090
                readinessProbe:
                  httpGet:
                    path: /-/ready
                    port: 9090
                  periodSeconds: 5
                livenessProbe:
                  httpGet:
                    path: /-/healthy
                    port: 9090
                  periodSeconds: 10
                resources:
                  requests:
                    cpu: 100m
                    memory: 256Mi
                  limits:
                    memory: 1Gi
                securityContext:
                  allowPrivilegeEscalation: false
                  readOnlyRootFilesystem: true
                  capabilities:
                    drop: [ALL]
                volumeMounts:
                - name: config
                  mountPath: /etc/prometheus
                  readOnly: true
                - name: data
                  mountPath: /data
              volumes:
              - name: config
                configMap:
                  name: prometheus-config
              - name: data
                emptyDir:
                  sizeLimit: 2Gi

        """
    }
}
