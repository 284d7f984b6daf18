import Controller
import Foundation
import Kubernetes
import MeshModel
import ProxyCore
import X509

/// The checks of `swiftlet check`, run in order against a cluster; a check that cannot go on (no API) ends the run.
struct HealthChecks {
    var client: KubernetesClient?
    /// Why there is no client, when there is none.
    var clientError: String?
    var controlPlaneNamespace = "swiftlet"
    /// `--pre`: whether the cluster is ready for an install (instead of whether the install is healthy).
    var pre = false
    /// `--proxy`: the data plane's proxies too, in `dataPlaneNamespace` or everywhere.
    var proxy = false
    var dataPlaneNamespace: String?
    var now = Date()

    /// Native sidecars (`restartPolicy: Always` init containers) are on by default from 1.29.
    static let minimumVersion = (major: 1, minor: 29)
    static let expiryMargin: TimeInterval = 60 * 24 * 3600
    static let gatewayInstall =
        "the Gateway API's CRDs are yours to install: kubectl apply -f "
        + "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml"

    func run() async -> CheckReport {
        var report = CheckReport()
        var api = CheckReport.Category(name: "kubernetes-api")
        guard let client else {
            api.checks.append(
                .init(
                    description: "can initialize the client", result: .error, error: self.clientError,
                    hint: "give --kubeconfig, or set KUBECONFIG"))
            report.categories.append(api)
            return report
        }
        api.checks.append(.init(description: "can initialize the client", result: .success))
        let version: GenericObject
        do {
            version = try await client.get("/version", as: GenericObject.self)
            api.checks.append(.init(description: "can query the Kubernetes API", result: .success))
            report.categories.append(api)
        } catch {
            api.checks.append(
                .init(
                    description: "can query the Kubernetes API", result: .error, error: "\(error)",
                    hint: "is the API server up, and the kubeconfig's credentials valid?"))
            report.categories.append(api)
            return report
        }
        report.categories.append(self.versionCategory(version))
        if self.pre {
            report.categories.append(await self.preInstallCategory(client))
            report.categories.append(await self.crdCategory(client, ours: false))
            return report
        }
        let (existence, values) = await self.existenceCategory(client)
        report.categories.append(existence)
        // Nothing installed: the rest would only be its absence said again, with hints for problems there are not.
        if existence.checks.first?.result == .error { return report }
        report.categories.append(await self.crdCategory(client, ours: true))
        report.categories.append(await self.identityCategory(client))
        report.categories.append(await self.webhookCategory(client))
        report.categories.append(await self.injectionCategory(client))
        if self.proxy {
            report.categories.append(await self.dataPlaneCategory(client, version: values?.version ?? SwiftletVersion.current))
        }
        return report
    }

    func versionCategory(_ version: GenericObject) -> CheckReport.Category {
        var category = CheckReport.Category(name: "kubernetes-version")
        let major = Int(version.json["major"]?.stringValue?.filter(\.isNumber) ?? "") ?? 0
        let minor = Int(version.json["minor"]?.stringValue?.filter(\.isNumber) ?? "") ?? 0
        let description = "is running the minimum Kubernetes API version (\(Self.minimumVersion.major).\(Self.minimumVersion.minor))"
        if (major, minor) >= Self.minimumVersion {
            category.checks.append(.init(description: description, result: .success))
        } else {
            category.checks.append(
                .init(
                    description: description, result: .error,
                    error: "the API server is \(version.json["gitVersion"]?.stringValue ?? "\(major).\(minor)")",
                    hint: "proxies are native sidecars, which need Kubernetes 1.29 or later"
                ))
        }
        return category
    }

    /// Whether the user may create what install creates, and grant what the controller needs (RBAC refuses to grant
    /// what the granter does not hold).
    func preInstallCategory(_ client: KubernetesClient) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "pre-kubernetes-setup")
        do {
            _ = try await client.get(ResourcePath.namespaces.path(name: self.controlPlaneNamespace), as: GenericObject.self)
            category.checks.append(
                .init(
                    description: "control plane namespace does not already exist", result: .error,
                    error: "namespace \(self.controlPlaneNamespace) exists",
                    hint: "to change an installed mesh: swiftlet upgrade | kubectl apply -f -"
                ))
        } catch  where error.status == 404 {
            category.checks.append(.init(description: "control plane namespace does not already exist", result: .success))
        } catch {
            category.checks.append(.init(description: "control plane namespace does not already exist", result: .error, error: "\(error)"))
        }
        let footprint: InstallFootprint
        do {
            // The superset of what install prints: with --ha it adds a PodDisruptionBudget.
            var values = MeshValues(version: SwiftletVersion.current)
            values.ha = true
            values.controlPlaneNamespace = self.controlPlaneNamespace
            footprint = try InstallFootprint(documents: InstallManifest(values: values, credentials: .placeholder).documents)
        } catch {
            category.checks.append(.init(description: "can review what install needs", result: .error, error: "\(error)"))
            return category
        }
        let hint = "install as a user bound to cluster-admin (kubectl auth can-i --list shows what you may do)"
        for (description, clusterWide) in [("can create non-namespaced resources", true), ("can create namespaced resources", false)] {
            var denied: [String] = []
            for permission in footprint.creates where (permission.namespace == nil) == clusterWide {
                if !(await self.allowed(client, permission)) { denied.append("\(permission)") }
            }
            category.checks.append(
                denied.isEmpty
                    ? .init(description: description, result: .success)
                    : .init(
                        description: description, result: .error, error: "not allowed: \(denied.joined(separator: ", "))", hint: hint
                    ))
        }
        // RBAC grants only what the granter holds, unless it may `escalate` (to write the role) and `bind` it.
        var missing: [String] = []
        for grant in footprint.grants {
            let resource = grant.kind == "ClusterRole" ? "clusterroles" : "roles"
            let rbac = "rbac.authorization.k8s.io"
            if await self.allowed(
                client, .init(verb: "escalate", group: rbac, resource: resource, namespace: grant.namespace, name: grant.name)),
                await self.allowed(
                    client, .init(verb: "bind", group: rbac, resource: resource, namespace: grant.namespace, name: grant.name))
            {
                continue
            }
            for permission in grant.permissions where !(await self.allowed(client, permission)) {
                missing.append("\(permission) (\(grant.kind) \(grant.name))")
            }
        }
        category.checks.append(
            missing.isEmpty
                ? .init(description: "can grant the controller what it needs", result: .success)
                : .init(
                    description: "can grant the controller what it needs", result: .error,
                    error: "RBAC lets you grant only what you hold; not held: \(missing.joined(separator: ", "))", hint: hint
                ))
        return category
    }

    /// Whether the user may, by a SelfSubjectAccessReview (the API server's own answer: RBAC and any other authorizer).
    func allowed(_ client: KubernetesClient, _ permission: InstallFootprint.Permission) async -> Bool {
        var attributes: [String: JSONValue] = [
            "verb": .string(permission.verb), "group": .string(permission.group), "resource": .string(permission.resource),
        ]
        if let namespace = permission.namespace { attributes["namespace"] = .string(namespace) }
        if let name = permission.name { attributes["name"] = .string(name) }
        let review = JSONValue.object([
            "apiVersion": .string("authorization.k8s.io/v1"), "kind": .string("SelfSubjectAccessReview"),
            "spec": .object(["resourceAttributes": .object(attributes)]),
        ])
        guard let answer = try? await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, as: GenericObject.self)
        else { return false }
        return answer.json["status"]?["allowed"] == .bool(true)
    }

    func existenceCategory(_ client: KubernetesClient) async -> (CheckReport.Category, MeshValues?) {
        var category = CheckReport.Category(name: "swiftlet-existence")
        let namespace = self.controlPlaneNamespace
        do {
            _ = try await client.get(ResourcePath.namespaces.path(name: namespace), as: GenericObject.self)
            category.checks.append(.init(description: "'\(namespace)' namespace exists", result: .success))
        } catch {
            category.checks.append(
                .init(
                    description: "'\(namespace)' namespace exists", result: .error,
                    error: error.status == 404 ? "there is no namespace \(namespace): Swiftlet is not installed" : "\(error)",
                    hint: "install the control plane: swiftlet install | kubectl apply -f -"
                ))
            return (category, nil)
        }
        var values: MeshValues?
        do {
            let config = try await client.get(
                ResourcePath.configMaps.inNamespace(namespace).path(name: "swiftlet-config"), as: GenericObject.self)
            values = try MeshValues(yaml: config.json["data"]?["values.yaml"]?.stringValue ?? "")
            category.checks.append(.init(description: "control plane configuration is readable", result: .success))
        } catch {
            category.checks.append(
                .init(
                    description: "control plane configuration is readable", result: .error, error: "swiftlet-config: \(error)",
                    hint: "re-apply the install: swiftlet upgrade | kubectl apply -f -"
                ))
        }
        let description = "controller pods are running and ready"
        do {
            let pods = try await client.get(
                ResourcePath.pods.inNamespace(namespace).path(),
                query: [("labelSelector", "swiftlet.io/control-plane-component=controller")],
                as: ObjectList<GenericObject>.self
            ).items
            let unready = pods.filter { !Self.isReady($0) }.map {
                "\($0.metadata.name ?? "?") (\($0.json["status"]?["phase"]?.stringValue ?? "no status"))"
            }
            if pods.isEmpty {
                category.checks.append(
                    .init(
                        description: description, result: .error, error: "no controller pod",
                        hint: "kubectl -n \(namespace) describe deploy/swiftlet-controller"))
            } else if !unready.isEmpty {
                category.checks.append(
                    .init(
                        description: description, result: .error, error: "not ready: \(unready.joined(separator: ", "))",
                        hint:
                            "kubectl -n \(namespace) describe pod -l swiftlet.io/control-plane-component=controller; kubectl -n "
                            + "\(namespace) logs deploy/swiftlet-controller"
                    ))
            } else {
                category.checks.append(.init(description: description, result: .success))
            }
        } catch {
            category.checks.append(.init(description: description, result: .error, error: "\(error)"))
        }
        return (category, values)
    }

    /// Running, and its Ready condition true.
    static func isReady(_ pod: GenericObject) -> Bool {
        guard pod.json["status"]?["phase"]?.stringValue == "Running" else { return false }
        guard case .array(let conditions) = pod.json["status"]?["conditions"] ?? .null else { return false }
        return conditions.contains { $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True" }
    }

    /// Our CRD (an error when missing: install makes it), and the Gateway API's route CRDs, which the controller runs
    /// without (no routes, then) and whose channel and version decide which route features exist: the standard
    /// channel's HTTPRoute has no `retry` (the API server prunes it), and XBackendTrafficPolicy is experimental.
    func crdCategory(_ client: KubernetesClient, ours: Bool) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "swiftlet-crds")
        var wanted: [(name: String, description: String, hint: String, optional: Bool)] = []
        if ours {
            wanted.append(
                ("faultinjections.policy.swiftlet.io", "FaultInjection CRD is installed", "swiftlet upgrade | kubectl apply -f -", false))
        }
        wanted.append(("httproutes.gateway.networking.k8s.io", "Gateway API HTTPRoute CRD (v1) is installed", Self.gatewayInstall, true))
        wanted.append(("grpcroutes.gateway.networking.k8s.io", "Gateway API GRPCRoute CRD (v1) is installed", Self.gatewayInstall, true))
        var gateway: [String: GenericObject] = [:]
        for crd in wanted {
            // The controller runs without the Gateway API (it then has no routes): its absence is a warning.
            let failure: CheckReport.Result = crd.optional ? .warning : .error
            let consequence = crd.optional ? "; the controller runs without it, with no routes of this kind" : ""
            do {
                let object = try await client.get(ResourcePath.customResourceDefinitions.path(name: crd.name), as: GenericObject.self)
                let served: [String]
                if case .array(let versions) = object.json["spec"]?["versions"] ?? .null {
                    served = versions.filter { $0["served"] == .bool(true) }.compactMap { $0["name"]?.stringValue }
                } else {
                    served = []
                }
                let version = crd.name.hasSuffix("swiftlet.io") ? "v1alpha1" : "v1"
                if crd.optional { gateway[crd.name] = object }
                category.checks.append(
                    served.contains(version)
                        ? .init(description: crd.description, result: .success)
                        : .init(
                            description: crd.description, result: failure,
                            error: "\(crd.name) does not serve \(version) (it serves \(served.joined(separator: ", ")))\(consequence)",
                            hint: crd.hint
                        ))
            } catch {
                category.checks.append(
                    .init(
                        description: crd.description, result: failure,
                        error: (error.status == 404 ? "\(crd.name) is not installed" : "\(error)") + consequence, hint: crd.hint
                    ))
            }
        }
        if let routes = gateway["httproutes.gateway.networking.k8s.io"] {
            category.checks.append(await self.gatewayChannel(client, routes))
        }
        return category
    }

    /// Which Gateway API release and channel the HTTPRoute CRD comes from (its annotations), and what that means.
    func gatewayChannel(_ client: KubernetesClient, _ routes: GenericObject) async -> CheckReport.Check {
        let annotations = routes.metadata.annotations ?? [:]
        let version = annotations["gateway.networking.k8s.io/bundle-version"] ?? "an unknown version"
        let channel = annotations["gateway.networking.k8s.io/channel"] ?? "an unknown channel"
        let description = "Gateway API CRDs: \(version), \(channel) channel"
        guard channel != "experimental" else {
            let policies = try? await client.get(
                ResourcePath.customResourceDefinitions.path(name: "xbackendtrafficpolicies.gateway.networking.x-k8s.io"),
                as: GenericObject.self
            )
            return .init(
                description: description, result: .success,
                note: policies == nil
                    ? "route rules' retry applies; XBackendTrafficPolicy (retry budgets, experimental from v1.3) is not installed, so "
                        + "budgets come from the retry.swiftlet.io annotations"
                    : "route rules' retry and XBackendTrafficPolicy retry budgets apply"
            )
        }
        return .init(
            description: description, result: .success,
            note:
                "on this channel retries are set by the retry.swiftlet.io annotations: an HTTPRoute rule's retry and "
                + "XBackendTrafficPolicy need the experimental channel (the API server drops a rule's retry here)"
        )
    }

    func identityCategory(_ client: KubernetesClient) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "swiftlet-identity")
        let namespace = self.controlPlaneNamespace
        let rotate = "rotate them: see swiftlet identity generate, then swiftlet upgrade with the new files"
        var anchors: [Certificate] = []
        do {
            let config = try await client.get(
                ResourcePath.configMaps.inNamespace(namespace).path(name: "swiftlet-identity-trust-roots"), as: GenericObject.self)
            anchors = try IssuerCredentials.certificates(pem: config.json["data"]?["ca-bundle.crt"]?.stringValue ?? "")
            guard !anchors.isEmpty else { throw InstallError("ca-bundle.crt holds no certificate") }
            let invalid = anchors.filter { $0.notValidBefore > self.now || $0.notValidAfter < self.now }
            guard invalid.isEmpty else {
                throw InstallError("not valid now: \(invalid.map { "\($0.subject) (until \($0.notValidAfter))" }.joined(separator: ", "))")
            }
            category.checks.append(.init(description: "trust anchors are valid", result: .success))
            category.checks.append(self.expiry("trust anchors are not expiring within 60 days", anchors, hint: rotate))
        } catch {
            category.checks.append(
                .init(
                    description: "trust anchors are valid", result: .error, error: "swiftlet-identity-trust-roots: \(error)", hint: rotate))
        }
        do {
            let secret = try await client.get(
                ResourcePath.secrets.inNamespace(namespace).path(name: "swiftlet-identity-issuer"), as: GenericObject.self)
            let chain = try IssuerCredentials.certificates(pem: Self.secretData(secret, "tls.crt"))
            let key = try Certificate.PrivateKey(pemEncoded: Self.secretData(secret, "tls.key"))
            guard let issuer = chain.first else { throw InstallError("tls.crt holds no certificate") }
            _ = try IssuerCredentials(trustAnchors: anchors, issuer: issuer, intermediates: Array(chain.dropFirst()), key: key)
            guard issuer.notValidAfter > self.now, issuer.notValidBefore <= self.now else {
                throw InstallError("the issuer is not valid now (until \(issuer.notValidAfter))")
            }
            category.checks.append(
                .init(description: "issuer certificate is valid, holds its key and is signed by a trust anchor", result: .success))
            category.checks.append(self.expiry("issuer certificate is not expiring within 60 days", chain, hint: rotate))
        } catch {
            category.checks.append(
                .init(
                    description: "issuer certificate is valid, holds its key and is signed by a trust anchor", result: .error,
                    error: "swiftlet-identity-issuer: \(error)", hint: rotate
                ))
        }
        return category
    }

    func expiry(_ description: String, _ certificates: [Certificate], hint: String) -> CheckReport.Check {
        let soon = certificates.filter { $0.notValidAfter < self.now + Self.expiryMargin }
        guard !soon.isEmpty else { return .init(description: description, result: .success) }
        return .init(
            description: description, result: .error,
            error: "\(soon.map { "\($0.subject) expires \($0.notValidAfter)" }.joined(separator: "; "))", hint: hint)
    }

    static func secretData(_ secret: GenericObject, _ key: String) throws -> String {
        guard let text = secret.secretText(key) else { throw InstallError("no base64 data key \(key)") }
        return text
    }

    func webhookCategory(_ client: KubernetesClient) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "swiftlet-webhook")
        let namespace = self.controlPlaneNamespace
        let description = "the webhook's caBundle verifies the injector's serving certificate"
        let webhook: GenericObject
        do {
            webhook = try await client.get(
                ResourcePath.mutatingWebhookConfigurations.path(name: "swiftlet-proxy-injector"), as: GenericObject.self)
            category.checks.append(.init(description: "proxy injector webhook is configured", result: .success))
        } catch {
            category.checks.append(
                .init(
                    description: "proxy injector webhook is configured", result: .error, error: "\(error)",
                    hint: "swiftlet upgrade | kubectl apply -f -"
                ))
            return category
        }
        do {
            guard case .array(let hooks) = webhook.json["webhooks"] ?? .null,
                let bundleText = hooks.first?["clientConfig"]?["caBundle"]?.stringValue,
                let bundle = Data(base64Encoded: bundleText)
            else { throw InstallError("the webhook has no caBundle") }
            let authorities = try IssuerCredentials.certificates(pem: String(decoding: bundle, as: UTF8.self))
            let secret = try await client.get(
                ResourcePath.secrets.inNamespace(namespace).path(name: "swiftlet-injector-tls"), as: GenericObject.self)
            guard let serving = try IssuerCredentials.certificates(pem: Self.secretData(secret, "tls.crt")).first else {
                throw InstallError("swiftlet-injector-tls holds no certificate")
            }
            guard
                authorities.contains(where: {
                    $0.subject == serving.issuer && $0.publicKey.isValidSignature(serving.signature, for: serving)
                })
            else {
                throw InstallError(
                    "swiftlet-injector-tls's certificate (issued by \(serving.issuer)) is not signed by the caBundle's "
                        + "\(authorities.map { "\($0.subject)" }.joined(separator: ", "))"
                )
            }
            let name = "swiftlet-injector.\(namespace).svc"
            guard try serving.extensions.subjectAlternativeNames?.contains(.dnsName(name)) == true else {
                throw InstallError("the injector's certificate is not for \(name)")
            }
            category.checks.append(.init(description: description, result: .success))
            category.checks.append(
                self.expiry(
                    "the injector's certificate is not expiring within 60 days", [serving],
                    hint: "swiftlet upgrade | kubectl apply -f - renews it"))
        } catch {
            category.checks.append(
                .init(
                    description: description, result: .error, error: "\(error)",
                    hint: "the webhook and its Secret come from different installs; swiftlet upgrade | kubectl apply -f - writes both"
                ))
        }
        return category
    }

    /// Whether the namespaces that ask for the mesh get it: the webhook selects namespaces by label (selectors cannot
    /// see annotations), and a namespace enforcing Pod Security baseline or restricted refuses the init container.
    func injectionCategory(_ client: KubernetesClient) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "swiftlet-injection")
        let namespaces: [GenericObject]
        do {
            namespaces = try await client.list(.namespaces, as: GenericObject.self).items
        } catch {
            category.checks.append(.init(description: "can list namespaces", result: .warning, error: "\(error)"))
            return category
        }
        var unlabelled: [String] = []
        var refusing: [String] = []
        for namespace in namespaces {
            let name = namespace.metadata.name ?? ""
            let labels = namespace.metadata.labels ?? [:]
            let annotated = namespace.metadata.annotations?[MeshLabels.inject] == "enabled"
            let labelled = labels[MeshLabels.inject] == "enabled"
            if annotated && !labelled { unlabelled.append(name) }
            if annotated || labelled, let level = labels[ProxyInjector.podSecurityEnforceLabel],
                ProxyInjector.refusingPodSecurityLevels.contains(level)
            {
                refusing.append("\(name): enforces Pod Security \"\(level)\"")
            }
        }
        let labelDescription = "namespaces opted in by label (the webhook cannot see annotations)"
        category.checks.append(
            unlabelled.isEmpty
                ? .init(description: labelDescription, result: .success)
                : .init(
                    description: labelDescription, result: .warning,
                    error: unlabelled.map { "\($0): annotated \(MeshLabels.inject)=enabled but not labelled, so its pods are not meshed" }
                        .joined(separator: "; "),
                    hint: unlabelled.map { "kubectl label namespace \($0) \(MeshLabels.inject)=enabled" }.joined(separator: "; ")
                ))
        let securityDescription = "opted-in namespaces allow the proxy's init container (Pod Security)"
        category.checks.append(
            refusing.isEmpty
                ? .init(description: securityDescription, result: .success)
                : .init(
                    description: securityDescription, result: .warning,
                    error:
                        "\(refusing.joined(separator: "; ")): its pods are created unmeshed (\(ProxyInjector.initContainerName) needs "
                        + "NET_ADMIN and NET_RAW)",
                    hint:
                        "label the namespace \(ProxyInjector.podSecurityEnforceLabel)=privileged to mesh it, or stop asking for injection "
                        + "there"
                ))
        return category
    }

    func dataPlaneCategory(_ client: KubernetesClient, version: String) async -> CheckReport.Category {
        var category = CheckReport.Category(name: "swiftlet-data-plane")
        if let namespace = self.dataPlaneNamespace {
            do {
                _ = try await client.get(ResourcePath.namespaces.path(name: namespace), as: GenericObject.self)
                category.checks.append(.init(description: "data plane namespace exists", result: .success))
            } catch {
                category.checks.append(
                    .init(description: "data plane namespace exists", result: .error, error: "\(error)", hint: "kubectl get namespaces"))
                return category
            }
        }
        let pods: [GenericObject]
        do {
            pods = try await client.get(
                ResourcePath.pods.inNamespace(self.dataPlaneNamespace).path(), query: [("labelSelector", MeshLabels.controlPlaneNamespace)],
                as: ObjectList<GenericObject>.self
            ).items
        } catch {
            category.checks.append(.init(description: "data plane proxies are ready", result: .error, error: "\(error)"))
            return category
        }
        // Pods whose own opt-in was not understood (the injector ignored it with a warning), meshed or not.
        if let annotated = try? await client.get(
            ResourcePath.pods.inNamespace(self.dataPlaneNamespace).path(), as: ObjectList<GenericObject>.self
        ).items {
            let unknown = annotated.compactMap { pod -> String? in
                guard let value = pod.metadata.annotations?[MeshLabels.inject], !ProxyInjector.injectValues.contains(value) else {
                    return nil
                }
                return "\(Self.qualifiedName(pod)) (\(DocumentStream.quoted(value)))"
            }
            let description = "pods' \(MeshLabels.inject) annotations are understood"
            category.checks.append(
                unknown.isEmpty
                    ? .init(description: description, result: .success)
                    : .init(
                        description: description, result: .warning,
                        error: "not enabled or disabled, so ignored: \(unknown.joined(separator: ", "))",
                        hint: "annotate them \(MeshLabels.inject)=enabled (or disabled) in their workload's pod template"
                    ))
        }
        guard !pods.isEmpty else {
            category.checks.append(
                .init(
                    description: "data plane proxies are ready", result: .warning,
                    error: "no meshed pods\(self.dataPlaneNamespace.map { " in \($0)" } ?? "")",
                    hint: "annotate a namespace or workload swiftlet.io/inject=enabled and restart its pods"
                ))
            return category
        }
        let name = Self.qualifiedName
        let unready = pods.filter { !Self.proxyReady($0) }.map(name)
        category.checks.append(
            unready.isEmpty
                ? .init(description: "data plane proxies are ready", result: .success)
                : .init(
                    description: "data plane proxies are ready", result: .error, error: "not ready: \(unready.joined(separator: ", "))",
                    hint: "kubectl describe pod; kubectl logs <pod> -c swiftlet-proxy"
                ))
        let stale = pods.filter { $0.metadata.annotations?[MeshLabels.proxyVersion] != version }
            .map { "\(name($0)) (\($0.metadata.annotations?[MeshLabels.proxyVersion] ?? "no version"))" }
        category.checks.append(
            stale.isEmpty
                ? .init(description: "data plane proxies are on the control plane's version (\(version))", result: .success)
                : .init(
                    description: "data plane proxies are on the control plane's version (\(version))", result: .error,
                    error: "other versions: \(stale.joined(separator: ", "))",
                    hint: "restart their workloads (kubectl rollout restart) so the injector gives them the current proxy"
                ))
        return category
    }

    static func qualifiedName(_ pod: GenericObject) -> String { "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")" }

    /// The pod's `swiftlet-proxy` container (a native sidecar, so among the init containers' statuses) is ready.
    static func proxyReady(_ pod: GenericObject) -> Bool {
        for key in ["initContainerStatuses", "containerStatuses"] {
            guard case .array(let statuses) = pod.json["status"]?[key] ?? .null else { continue }
            if let proxy = statuses.first(where: { $0["name"]?.stringValue == ProxyInjector.proxyContainerName }) {
                return proxy["ready"] == .bool(true)
            }
        }
        return false
    }
}
