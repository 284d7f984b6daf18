import MeshModel
import Yams

/// Reads the YAML kinds the mesh cares about from one file: `v1 Service`, `swiftlet.io/v1alpha1 Workload`, the Gateway
/// API's `HTTPRoute` and `GRPCRoute`, and `policy.swiftlet.io/v1alpha1 FaultInjection`.
///
/// Other kinds are skipped (a directory of real manifests holds Deployments and ConfigMaps too). A file is taken
/// whole or not at all: the first bad document throws a `ManifestError` naming its line, so the caller can keep
/// the file's last good version in force.
public enum ManifestParser {
    public static let workloadAPIVersion = "swiftlet.io/v1alpha1"

    public static func parse(_ text: String, file: String) throws(ManifestError) -> [ClusterObject] {
        try Self.parseReportingIgnored(text, file: file).objects
    }

    /// As `parse`, with the documents of kinds the mesh does not read (`ConfigMap v1 at line 3`): ignored, and said.
    public static func parseReportingIgnored(_ text: String, file: String) throws(ManifestError) -> (
        objects: [ClusterObject], ignored: [String]
    ) {
        var objects: [ClusterObject] = []
        var ignored: [String] = []
        do {
            // The sequence stops at a syntax error and keeps it in `error`: checked after the loop, or a broken
            // file would silently lose its later documents.
            var documents = try Yams.compose_all(yaml: text)
            while let document = documents.next() {
                if let object = try Self.object(document, file: file) {
                    objects.append(object)
                } else if let root = document.mapping, let kind = root["kind"]?.string {
                    ignored.append("\(kind) \(root["apiVersion"]?.string ?? "") at line \(document.mark.map { $0.line } ?? 0)")
                }
            }
            if let error = documents.error { throw error }
        } catch let error as ManifestError {
            throw error
        } catch let error as YamlError {
            throw Self.syntaxError(error, file: file)
        } catch {
            throw ManifestError(.syntax, file: file, line: 0, "cannot parse: \(error)")
        }
        return (objects, ignored)
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ManifestError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return ManifestError(.syntax, file: file, line: mark.line, "invalid YAML: \(prefix)\(problem)")
        default:
            return ManifestError(.syntax, file: file, line: 1, "invalid YAML: \(error)")
        }
    }

    private static func object(_ document: Node, file: String) throws -> ClusterObject? {
        let reader = FieldReader(file: file)
        guard let root = document.mapping else {
            if case .scalar(let scalar) = document, scalar.string.isEmpty { return nil }  // an empty document
            throw reader.error(.invalidField, document, "a document must be a mapping with `kind`")
        }
        let kind = try reader.string(root, "kind", in: document)
        let apiVersion = try reader.string(root, "apiVersion", in: document)
        switch (apiVersion, kind) {
        case ("v1", "Service"): return .service(try Self.service(root, document, reader))
        case (Self.workloadAPIVersion, "Workload"): return .workload(try Self.workload(root, document, reader))
        case (let version, "HTTPRoute") where Self.gatewayVersions.contains(version):
            return .route(try Self.route(.http, root, document, reader))
        case (let version, "GRPCRoute") where Self.gatewayVersions.contains(version):
            return .route(try Self.route(.grpc, root, document, reader))
        case (FaultInjectionSpec.apiVersion, "FaultInjection"): return .faultInjection(try Self.faultInjection(root, document, reader))
        case (BackendTrafficPolicySpec.apiVersion, "XBackendTrafficPolicy"):
            return .backendTrafficPolicy(try Self.backendTrafficPolicy(root, document, reader))
        default: return nil
        }
    }

    /// The object's key and labels, and its `metadata` mapping for what else a kind reads there (annotations).
    static func metadata(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> (
        ObjectKey, [String: String], Node.Mapping
    ) {
        let metadata = try reader.mapping(root, "metadata", in: document)
        let metadataNode = root["metadata"]!
        let name = try reader.dnsLabel(metadata, "name", in: metadataNode)
        let namespace = try reader.optionalDNSLabel(metadata, "namespace") ?? "default"
        let labels = try reader.stringMap(metadata, "labels") ?? [:]
        return (ObjectKey(namespace: namespace, name: name), labels, metadata)
    }

    private static func service(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> ServiceSpec {
        let (key, _, metadata) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        let specNode = root["spec"]!
        let selector = try reader.stringMap(spec, "selector") ?? [:]
        var ports: [ServiceSpec.Port] = []
        for portNode in try reader.sequence(spec, "ports", in: specNode) {
            guard let port = portNode.mapping else { throw reader.error(.invalidField, portNode, "a port must be a mapping") }
            let number = try reader.port(port, "port", in: portNode)
            var target: ServiceSpec.TargetPort? = nil
            if let targetNode = port["targetPort"] {
                if let value = targetNode.int {
                    guard (1...65535).contains(value) else {
                        throw reader.error(.invalidField, targetNode, "targetPort \(value) is not a port (1-65535)")
                    }
                    target = .number(value)
                } else if let name = targetNode.string, !name.isEmpty {
                    target = .name(name)
                } else {
                    throw reader.error(.invalidField, targetNode, "targetPort must be a port number or a port name")
                }
            }
            ports.append(
                ServiceSpec.Port(
                    name: try reader.optionalString(port, "name"), port: number, targetPort: target,
                    appProtocol: try reader.optionalString(port, "appProtocol")
                )
            )
        }
        var clusterIP: String? = nil
        if let value = try reader.optionalString(spec, "clusterIP"), value != "None" {
            guard IPAddressText.isValid(value) else {
                throw reader.error(.invalidField, spec["clusterIP"]!, "clusterIP \"\(value)\" is not an IPv4 or IPv6 address")
            }
            clusterIP = value
        }
        let annotations = try reader.stringMap(metadata, "annotations") ?? [:]
        let policy = try Self.annotationPolicy(annotations, metadata: metadata, reader: reader)
        return ServiceSpec(
            key: key, selector: selector, ports: ports, clusterIP: clusterIP, retry: policy.retry, timeouts: policy.timeouts,
            accrual: try Self.failureAccrual(annotations, metadata: metadata, reader: reader),
            budget: try Self.retryBudget(annotations, metadata: metadata, reader: reader)
        )
    }

    private static func workload(_ root: Node.Mapping, _ document: Node, _ reader: FieldReader) throws -> WorkloadSpec {
        let (key, labels, metadata) = try Self.metadata(root, document, reader)
        let spec = try reader.mapping(root, "spec", in: document)
        let specNode = root["spec"]!
        let address = try reader.string(spec, "address", in: specNode)
        guard IPAddressText.isValid(address) else {
            throw reader.error(.invalidField, spec["address"]!, "address \"\(address)\" is not an IPv4 or IPv6 address")
        }
        var ports: [WorkloadSpec.Port] = []
        if spec["ports"] != nil {
            for portNode in try reader.sequence(spec, "ports", in: specNode) {
                guard let port = portNode.mapping else { throw reader.error(.invalidField, portNode, "a port must be a mapping") }
                ports.append(
                    WorkloadSpec.Port(name: try reader.optionalString(port, "name"), port: try reader.port(port, "port", in: portNode)))
            }
        }
        var meshed = true
        if let node = spec["meshed"] {
            guard let value = node.bool else { throw reader.error(.invalidField, node, "meshed must be true or false") }
            meshed = value
        }
        // The workload that owns it, as a pod's owner reference says on a cluster (its metrics carry `dst_deployment`
        // and the like, as Linkerd's do): `spec.owner`, else a Deployment named by its `app.kubernetes.io/name` or `app`
        // label, else by the workload's own name.
        var owner = WorkloadSpec.Owner(kind: "Deployment", name: labels["app.kubernetes.io/name"] ?? labels["app"] ?? key.name)
        if let node = spec["owner"] {
            guard let mapping = node.mapping else { throw reader.error(.invalidField, node, "owner must be a mapping with kind and name") }
            let kind = try reader.string(mapping, "kind", in: node)
            guard WorkloadSpec.Owner.kinds.contains(kind) else {
                throw reader.error(
                    .invalidField, mapping["kind"]!,
                    "owner kind \"\(kind)\" is not one of \(WorkloadSpec.Owner.kinds.joined(separator: ", "))")
            }
            owner = WorkloadSpec.Owner(kind: kind, name: try reader.string(mapping, "name", in: node))
        }
        // Where its proxy's tap server listens: local proxies have no fixed port, so the Workload says it.
        let tapPort = try spec["tapPort"].map { _ in try reader.port(spec, "tapPort", in: specNode) }
        // Its proxy's admin server, which local mode's Prometheus scrapes, likewise.
        let adminPort = try spec["adminPort"].map { _ in try reader.port(spec, "adminPort", in: specNode) }
        let annotations = try reader.stringMap(metadata, "annotations") ?? [:]
        return WorkloadSpec(
            key: key, labels: labels, serviceAccount: try reader.optionalDNSLabel(spec, "serviceAccount") ?? "default",
            address: address, ports: ports, meshed: meshed, owner: owner, tapPort: tapPort, adminPort: adminPort,
            tapDisabled: annotations[WorkloadSpec.disableTapAnnotation] == "true"
        )
    }
}

/// Typed access to a YAML mapping that turns every mistake into a `ManifestError` at the right line.
struct FieldReader {
    let file: String

    func error(_ code: ManifestError.Code, _ node: Node, _ message: String) -> ManifestError {
        ManifestError(code, file: self.file, line: node.mark?.line ?? 1, message)
    }

    func string(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> String {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw self.error(.invalidField, node, "`\(key)` must be a non-empty string")
        }
        return scalar.string
    }

    func optionalString(_ mapping: Node.Mapping, _ key: String) throws -> String? {
        guard let node = mapping[key] else { return nil }
        guard case .scalar(let scalar) = node else { throw self.error(.invalidField, node, "`\(key)` must be a string") }
        return scalar.string.isEmpty ? nil : scalar.string
    }

    func dnsLabel(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> String {
        let value = try self.string(mapping, key, in: parent)
        guard Self.isDNSLabel(value) else {
            throw self.error(.invalidField, mapping[key]!, "`\(key)` \"\(value)\" must be a DNS label (a-z, 0-9, '-', at most 63)")
        }
        return value
    }

    func optionalDNSLabel(_ mapping: Node.Mapping, _ key: String) throws -> String? {
        guard let value = try self.optionalString(mapping, key) else { return nil }
        guard Self.isDNSLabel(value) else {
            throw self.error(.invalidField, mapping[key]!, "`\(key)` \"\(value)\" must be a DNS label (a-z, 0-9, '-', at most 63)")
        }
        return value
    }

    func mapping(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> Node.Mapping {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard let value = node.mapping else { throw self.error(.invalidField, node, "`\(key)` must be a mapping") }
        return value
    }

    func sequence(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> [Node] {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard let value = node.sequence else { throw self.error(.invalidField, node, "`\(key)` must be a list") }
        return Array(value)
    }

    func stringMap(_ mapping: Node.Mapping, _ key: String) throws -> [String: String]? {
        guard let node = mapping[key] else { return nil }
        guard let value = node.mapping else { throw self.error(.invalidField, node, "`\(key)` must be a mapping of strings") }
        var result: [String: String] = [:]
        for (name, entry) in value {
            guard case .scalar(let k) = name, case .scalar(let v) = entry else {
                throw self.error(.invalidField, entry, "`\(key)` must map strings to strings")
            }
            result[k.string] = v.string
        }
        return result
    }

    func port(_ mapping: Node.Mapping, _ key: String, in parent: Node) throws -> Int {
        guard let node = mapping[key] else { throw self.error(.missingField, parent, "missing `\(key)`") }
        guard let value = node.int, (1...65535).contains(value) else {
            throw self.error(.invalidField, node, "`\(key)` must be a port number (1-65535)")
        }
        return value
    }

    static func isDNSLabel(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }
    }
}
