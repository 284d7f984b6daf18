import Kubernetes
import Yams

/// What `swiftlet install` creates and what its roles grant, read from the very documents install prints, so that
/// `check --pre` asks about exactly the permissions an install needs: a green `--pre` cannot be followed by an
/// install that fails half-way for a permission it did not review.
struct InstallFootprint {
    /// One access review: a verb on a resource, in a namespace or cluster-wide, for one object or all.
    struct Permission: Hashable, CustomStringConvertible {
        var verb: String
        var group: String
        var resource: String
        var namespace: String?
        var name: String?

        var description: String {
            var text = "\(self.verb) \(self.group.isEmpty ? "" : self.group + "/")\(self.resource)"
            if let name { text += " \(name)" }
            if let namespace { text += " in \(namespace)" }
            return text
        }
    }

    /// A role install creates and binds: what it grants, and where.
    struct Grant {
        var kind: String
        var name: String
        var namespace: String?
        var permissions: [Permission]
    }

    /// Creating each document's object, in install's order.
    var creates: [Permission] = []
    var grants: [Grant] = []

    /// The resource (plural) of each kind install creates; a kind missing here is an error, so a document added to
    /// install without a review here fails its test.
    static let resources: [String: String] = [
        "Namespace": "namespaces", "CustomResourceDefinition": "customresourcedefinitions", "ServiceAccount": "serviceaccounts",
        "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
        "ConfigMap": "configmaps", "Secret": "secrets", "Service": "services", "Deployment": "deployments",
        "PodDisruptionBudget": "poddisruptionbudgets", "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
        "APIService": "apiservices",
    ]

    /// Roles Kubernetes itself makes that install binds: binding one needs what it grants (or `bind`), as a role
    /// install makes does.
    static let bootstrapRoles: [String: [Permission]] = [
        "extension-apiserver-authentication-reader": ["get", "list", "watch"].map {
            Permission(verb: $0, group: "", resource: "configmaps", namespace: "kube-system", name: "extension-apiserver-authentication")
        }
    ]

    init(documents: [String]) throws {
        for text in documents {
            guard let document = try Yams.compose(yaml: text)?.mapping, let kind = document["kind"]?.string,
                let apiVersion = document["apiVersion"]?.string
            else { throw InstallError("an install document without kind or apiVersion") }
            guard let resource = Self.resources[kind] else {
                throw InstallError("install creates a \(kind), which check --pre does not review")
            }
            let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
            let metadata = document["metadata"]?.mapping
            let namespace = metadata?["namespace"]?.string
            let name = metadata?["name"]?.string ?? ""
            self.creates.append(Permission(verb: "create", group: group, resource: resource, namespace: namespace))
            if kind == "RoleBinding" || kind == "ClusterRoleBinding", let role = document["roleRef"]?.mapping?["name"]?.string,
                let permissions = Self.bootstrapRoles[role]
            {
                self.grants.append(Grant(kind: "Role", name: role, namespace: namespace, permissions: permissions))
            }
            guard kind == "ClusterRole" || kind == "Role", case .sequence(let rules)? = document["rules"] else { continue }
            var permissions: [Permission] = []
            for rule in rules {
                guard let rule = rule.mapping else { continue }
                func strings(_ key: String) -> [String] {
                    guard case .sequence(let items)? = rule[key] else { return [] }
                    return items.compactMap(\.string)
                }
                let names = strings("resourceNames")
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            for name in names.isEmpty ? [nil] : names.map(Optional.some) {
                                permissions.append(
                                    Permission(verb: verb, group: group, resource: resource, namespace: namespace, name: name))
                            }
                        }
                    }
                }
            }
            self.grants.append(Grant(kind: kind, name: name, namespace: namespace, permissions: permissions))
        }
    }
}
