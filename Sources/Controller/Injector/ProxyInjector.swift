import Kubernetes
import MeshModel
import Yams

/// Builds what a meshed pod gets: the proxy as a native sidecar, the init container that writes its iptables rules,
/// the projected token it proves its identity with, and the labels that mark the pod meshed. The injector webhook
/// turns it into a JSONPatch; `swiftlet inject` applies it to workload templates offline; both from this one type,
/// so a pod injected either way is the same pod.
public struct ProxyInjector: Sendable {
    public var values: MeshValues
    /// The anchors a proxy verifies the identity service against at start (later answers keep them current).
    public var trustAnchorsPEM: String

    public static let proxyContainerName = "swiftlet-proxy"
    public static let initContainerName = "swiftlet-init"
    public static let tokenVolumeName = "swiftlet-identity-token"
    /// The proxy's tap port and its name, by which the tap service finds it in a pod.
    public static let tapPortName = "swiftlet-tap"
    public static let tapPort = 4190
    public static let xtablesVolumeName = "swiftlet-init-xtables-lock"
    public static let tokenAudience = "identity.swiftlet.io"
    public static let tokenDirectory = "/var/run/secrets/tokens"

    /// The annotations a user configures injection with.
    public enum Annotation {
        public static let skipInboundPorts = "config.swiftlet.io/skip-inbound-ports"
        public static let skipOutboundPorts = "config.swiftlet.io/skip-outbound-ports"
        public static let opaquePorts = "config.swiftlet.io/opaque-ports"
    }

    /// The label naming the workload that owns an injected pod: `swiftlet.io/proxy-deployment: web`.
    public static func ownerLabel(kind: String) -> String { "swiftlet.io/proxy-\(kind.lowercased())" }

    public init(values: MeshValues, trustAnchorsPEM: String) {
        self.values = values
        self.trustAnchorsPEM = trustAnchorsPEM
    }

    /// What injecting one pod adds.
    public struct Injection {
        public var labels: [(key: String, value: String)]
        public var annotations: [(key: String, value: String)]
        /// Put first, in this order: the init container, then the proxy (whose start the app containers wait for).
        public var initContainers: [Node]
        public var volumes: [Node]
    }

    /// The values `swiftlet.io/inject` may take. Anything else is ignored with a warning (the namespace decides).
    public static let injectValues: Set<String> = ["enabled", "disabled"]

    /// The Pod Security levels that refuse the init container's NET_ADMIN and NET_RAW (and its root user).
    public static let refusingPodSecurityLevels: Set<String> = ["baseline", "restricted"]
    public static let podSecurityEnforceLabel = "pod-security.kubernetes.io/enforce"

    /// What is known of a pod's namespace: its labels (the namespace-wide opt-in the webhook selects on, its Pod
    /// Security level) and annotations (the opt-in as Linkerd users write it).
    public struct NamespaceMetadata: Sendable {
        public var labels: [String: String]
        public var annotations: [String: String]

        public init(labels: [String: String] = [:], annotations: [String: String] = [:]) {
            self.labels = labels
            self.annotations = annotations
        }

        var optsIn: Bool { self.labels[MeshLabels.inject] == "enabled" || self.annotations[MeshLabels.inject] == "enabled" }
    }

    /// Whether a pod (template) is injected: `skip` says why not (nil: inject); `warnings` say what its author should
    /// know (an annotation value not understood, an opt-in that cannot be honoured), for the webhook's answer and
    /// the CLI. `requireOptIn`: the webhook injects only pods that ask (their annotation, else their namespace's);
    /// `swiftlet inject` injects whatever it is given unless it says `disabled`.
    public func decide(template: Node, namespace: String?, namespaceMetadata: NamespaceMetadata, requireOptIn: Bool) -> (
        skip: String?, warnings: [String]
    ) {
        let metadata = template["metadata"]
        let spec = template["spec"]
        var warnings: [String] = []
        if namespace == "kube-system" || namespace == self.values.controlPlaneNamespace {
            return ("namespace \(namespace!) is never meshed", [])
        }
        var annotation = metadata?["annotations"]?[MeshLabels.inject]?.string
        if let value = annotation, !Self.injectValues.contains(value) {
            warnings.append(
                "\(MeshLabels.inject): \"\(value)\" is not \"enabled\" or \"disabled\"; it is ignored, and the namespace decides")
            annotation = nil
        }
        if annotation == "disabled" { return ("annotated \(MeshLabels.inject): disabled", warnings) }
        let optedIn = annotation == "enabled" || namespaceMetadata.optsIn
        if requireOptIn && !optedIn {
            return ("neither the pod nor its namespace is annotated \(MeshLabels.inject): enabled", warnings)
        }
        if metadata?["labels"]?[MeshLabels.controlPlaneNamespace] != nil || Self.containerNames(spec).contains(Self.proxyContainerName) {
            return ("already injected", warnings)
        }
        if spec?["hostNetwork"]?.bool == true {
            let reason = "it uses the host's network (its iptables rules would capture the node's traffic)"
            return (reason, warnings + ["the proxy was not injected: \(reason)"])
        }
        if let level = namespaceMetadata.labels[Self.podSecurityEnforceLabel], Self.refusingPodSecurityLevels.contains(level) {
            let reason =
                "namespace \(namespace ?? "") enforces Pod Security \"\(level)\", which refuses the NET_ADMIN and NET_RAW capabilities "
                + "\(Self.initContainerName) needs to write the pod's iptables rules"
            return (
                reason,
                warnings + [
                    "the proxy was not injected: \(reason); to mesh the pod, let the namespace run privileged pods "
                        + "(\(Self.podSecurityEnforceLabel)=privileged) or leave it unmeshed"
                ]
            )
        }
        return (nil, warnings)
    }

    static func containerNames(_ spec: Node?) -> [String] {
        ["initContainers", "containers"].flatMap { key in (spec?[key]?.sequence.map(Array.init) ?? []).compactMap { $0["name"]?.string } }
    }

    /// The injection for a pod (template) with these annotations, owned by `owner` (kind and name of the workload:
    /// `Deployment web`), in `namespace` when known. Bad port annotations are an error naming the annotation.
    public func injection(template: Node, owner: (kind: String, name: String)?, namespace: String?) throws(InjectionError) -> Injection {
        let annotations = template["metadata"]?["annotations"]
        func ports(_ key: String) throws(InjectionError) -> [ProxyInitRules.PortRange] {
            guard let text = annotations?[key]?.string else { return [] }
            do {
                return try ProxyInitRules.ports(text)
            } catch {
                throw InjectionError("\(key): \(error.reason)")
            }
        }
        var rules = ProxyInitRules()
        rules.proxyUID = MeshValues.proxyUID
        rules.skipInboundPorts += try ports(Annotation.skipInboundPorts)
        rules.skipOutboundPorts += try ports(Annotation.skipOutboundPorts)
        let opaque = try ports(Annotation.opaquePorts)

        var labels: [(String, String)] = [(MeshLabels.controlPlaneNamespace, self.values.controlPlaneNamespace)]
        if let namespace { labels.append((MeshLabels.workloadNamespace, namespace)) }
        if let owner { labels.append((Self.ownerLabel(kind: owner.kind), owner.name)) }
        let initContainer = self.initContainer(rules)
        let proxy = self.proxyContainer(
            workload: owner?.name ?? template["metadata"]?["name"]?.string ?? "", opaquePorts: opaque,
            tapDisabled: annotations?[WorkloadSpec.disableTapAnnotation]?.string == "true")
        let volumes = """
            - name: \(Self.tokenVolumeName)
              projected:
                sources:
                - serviceAccountToken:
                    audience: \(Self.tokenAudience)
                    expirationSeconds: 86400
                    path: \(Self.tokenVolumeName)
            - name: \(Self.xtablesVolumeName)
              emptyDir: {}
            """
        return Injection(
            labels: labels, annotations: [(MeshLabels.proxyVersion, self.values.version)],
            initContainers: [Self.node(initContainer), Self.node(proxy)], volumes: Array(Self.node(volumes).sequence ?? [])
        )
    }

    /// The init container: `swiftlet-proxy init` as root with NET_ADMIN and NET_RAW and nothing else, a read-only
    /// root filesystem, and an emptyDir on /run for iptables' lock file.
    func initContainer(_ rules: ProxyInitRules) -> String {
        var arguments = [
            "init", "--proxy-uid", String(rules.proxyUID), "--inbound-port", String(rules.inboundPort), "--outbound-port",
            String(rules.outboundPort),
        ]
        let extraInbound = rules.skipInboundPorts.dropFirst(ProxyInitRules().skipInboundPorts.count)
        if !extraInbound.isEmpty { arguments += ["--skip-inbound-ports", extraInbound.map(\.description).joined(separator: ",")] }
        if !rules.skipOutboundPorts.isEmpty {
            arguments += ["--skip-outbound-ports", rules.skipOutboundPorts.map(\.description).joined(separator: ",")]
        }
        return """
            name: \(Self.initContainerName)
            image: \(q(self.values.proxyImage))
            imagePullPolicy: \(self.values.imagePullPolicy)
            args: [\(arguments.map(q).joined(separator: ", "))]
            resources:
              requests: {cpu: 10m, memory: 10Mi}
              limits: {cpu: 100m, memory: 64Mi}
            securityContext:
              runAsUser: 0
              runAsGroup: 0
              runAsNonRoot: false
              privileged: false
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              capabilities:
                add: [NET_ADMIN, NET_RAW]
                drop: [ALL]
              seccompProfile:
                type: RuntimeDefault
            volumeMounts:
            - name: \(Self.xtablesVolumeName)
              mountPath: /run
            terminationMessagePolicy: FallbackToLogsOnError
            """
    }

    /// The proxy as a native sidecar (`restartPolicy: Always` in `initContainers`): started before the app's
    /// containers, which wait for its startup probe, and stopped after them, so a Job's pod still completes.
    func proxyContainer(workload: String, opaquePorts: [ProxyInitRules.PortRange], tapDisabled: Bool = false) -> String {
        let domain = self.values.clusterDomain
        let namespace = self.values.controlPlaneNamespace
        var environment: [(String, String)] = [
            ("SWIFTLET_PROXY_LOG", self.values.proxyLogLevel),
            ("SWIFTLET_PROXY_MODE", "transparent"),
            ("SWIFTLET_PROXY_INBOUND_LISTEN_ADDR", "0.0.0.0:4143"),
            ("SWIFTLET_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:4140"),
            ("SWIFTLET_PROXY_ADMIN_LISTEN_ADDR", "0.0.0.0:4191"),
            ("SWIFTLET_PROXY_WORKLOAD", workload),
            ("SWIFTLET_PROXY_CLUSTER_DOMAIN", domain),
            ("SWIFTLET_PROXY_DESTINATION_ADDR", "swiftlet-dst.\(namespace).svc.\(domain):8086"),
            ("SWIFTLET_PROXY_IDENTITY_ADDR", "swiftlet-identity.\(namespace).svc.\(domain):8080"),
            (
                "SWIFTLET_PROXY_IDENTITY_LOCAL_NAME",
                "$(_SWIFTLET_SERVICE_ACCOUNT).$(SWIFTLET_PROXY_NAMESPACE).serviceaccount.identity.\(namespace).\(self.values.trustDomain)"
            ),
            ("SWIFTLET_PROXY_IDENTITY_TOKEN_FILE", "\(Self.tokenDirectory)/\(Self.tokenVolumeName)"),
            ("SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS", self.trustAnchorsPEM),
        ]
        if !opaquePorts.isEmpty {
            environment.append(("SWIFTLET_PROXY_OPAQUE_PORTS", opaquePorts.map(\.description).joined(separator: ",")))
        }
        // Tap: served to the tap service's identity only (and loopback), unless the pod turns it off.
        let identity = MeshIdentity(trustDomain: self.values.trustDomain, controlPlaneNamespace: namespace)
        var tapPort = ""
        if tapDisabled {
            environment.append(("SWIFTLET_PROXY_TAP_DISABLED", "true"))
        } else {
            environment.append(("SWIFTLET_PROXY_TAP_LISTEN_ADDR", "0.0.0.0:\(Self.tapPort)"))
            environment.append(("SWIFTLET_PROXY_TAP_SVC_NAME", identity.tapServiceName))
            tapPort = "\n- name: \(Self.tapPortName)\n  containerPort: \(Self.tapPort)"
        }
        let env = environment.map { "- name: \($0.0)\n  value: \(q($0.1))\n" }.joined()
        return """
            name: \(Self.proxyContainerName)
            image: \(q(self.values.proxyImage))
            imagePullPolicy: \(self.values.imagePullPolicy)
            restartPolicy: Always
            ports:
            - name: swiftlet-proxy
              containerPort: 4143
            - name: swiftlet-admin
              containerPort: 4191\(tapPort)
            env:
            - name: SWIFTLET_PROXY_NAMESPACE
              valueFrom:
                fieldRef: {fieldPath: metadata.namespace}
            - name: _SWIFTLET_SERVICE_ACCOUNT
              valueFrom:
                fieldRef: {fieldPath: spec.serviceAccountName}
            \(env.split(separator: "\n").joined(separator: "\n"))
            startupProbe:
              httpGet: {path: /ready, port: 4191}
              periodSeconds: 1
              failureThreshold: 120
            readinessProbe:
              httpGet: {path: /ready, port: 4191}
              periodSeconds: 10
            livenessProbe:
              httpGet: {path: /live, port: 4191}
              periodSeconds: 10
              failureThreshold: 3
            \(Self.resources(self.values.proxyResources))
            securityContext:
              runAsUser: \(MeshValues.proxyUID)
              runAsGroup: \(MeshValues.proxyUID)
              runAsNonRoot: true
              readOnlyRootFilesystem: true
              allowPrivilegeEscalation: false
              capabilities:
                drop: [ALL]
              seccompProfile:
                type: RuntimeDefault
            volumeMounts:
            - name: \(Self.tokenVolumeName)
              mountPath: \(Self.tokenDirectory)
              readOnly: true
            terminationMessagePolicy: FallbackToLogsOnError
            """
    }

    /// `resources:` on one line (flow style), or an empty `{}` when nothing is set.
    static func resources(_ resources: MeshValues.Resources) -> String {
        func part(_ cpu: String, _ memory: String) -> String {
            [("cpu", cpu), ("memory", memory)].filter { !$0.1.isEmpty }.map { "\($0.0): \(q($0.1))" }.joined(separator: ", ")
        }
        let requests = part(resources.cpuRequest, resources.memoryRequest)
        let limits = part(resources.cpuLimit, resources.memoryLimit)
        var fields: [String] = []
        if !requests.isEmpty { fields.append("requests: {\(requests)}") }
        if !limits.isEmpty { fields.append("limits: {\(limits)}") }
        return "resources: {\(fields.joined(separator: ", "))}"
    }

    /// A node from YAML we wrote ourselves (so it always parses).
    static func node(_ yaml: String) -> Node {
        // The templates above are fixed text with quoted values; a failure here is a bug in them.
        try! Yams.compose(yaml: yaml)!
    }
}

/// A JSON string literal, which YAML reads as a double-quoted scalar: safe for any value.
func q(_ text: String) -> String { DocumentStream.quoted(text) }

/// Why a pod cannot be injected as asked (a bad annotation), for the user to fix.
public struct InjectionError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
