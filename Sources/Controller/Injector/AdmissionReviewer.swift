import Foundation
import Kubernetes
import Logging
import Yams

/// Answers the API server's AdmissionReview (v1) for a pod being created: allowed always (the injector never
/// blocks a pod), with a JSONPatch that injects the proxy when the pod or its namespace asks for it.
public struct AdmissionReviewer: Sendable {
    /// The injector with the trust anchors in force now (they rotate).
    let injector: @Sendable () -> ProxyInjector
    /// A namespace's labels and annotations (its opt-in, its Pod Security level); empty when unknown.
    let namespaceMetadata: @Sendable (String) async -> ProxyInjector.NamespaceMetadata
    let logger: Logger

    /// JSON nested deeper than this is refused before it is parsed: a pod is a dozen levels deep, and the parser
    /// recurses once per level.
    static let maximumDepth = 64

    public init(
        injector: @escaping @Sendable () -> ProxyInjector,
        namespaceMetadata: @escaping @Sendable (String) async -> ProxyInjector.NamespaceMetadata,
        logger: Logger
    ) {
        self.injector = injector
        self.namespaceMetadata = namespaceMetadata
        self.logger = logger
    }

    /// The HTTP status and body answering one AdmissionReview request body.
    public func review(_ body: [UInt8]) async -> (status: Int, body: String) {
        guard Self.depth(of: body) <= Self.maximumDepth, let text = String(validating: body, as: UTF8.self),
            let root = try? Yams.compose(yaml: text), root["kind"]?.string == "AdmissionReview",
            let request = root["request"], let uid = request["uid"]?.string
        else {
            return (
                400,
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"expected an AdmissionReview "
                    + "(admission.k8s.io/v1) with a request\",\"code\":400}"
            )
        }
        let apiVersion = root["apiVersion"]?.string ?? "admission.k8s.io/v1"
        func answer(patch: String? = nil, warnings: [String] = []) -> (Int, String) {
            var response = "\"uid\":\(DocumentStream.quoted(uid)),\"allowed\":true"
            if let patch {
                response += ",\"patchType\":\"JSONPatch\",\"patch\":\(DocumentStream.quoted(Data(patch.utf8).base64EncodedString()))"
            }
            if !warnings.isEmpty {
                response += ",\"warnings\":[\(warnings.map { DocumentStream.quoted("swiftlet: " + $0) }.joined(separator: ","))]"
            }
            return (200, "{\"apiVersion\":\(DocumentStream.quoted(apiVersion)),\"kind\":\"AdmissionReview\",\"response\":{\(response)}}")
        }
        guard request["kind"]?["kind"]?.string == "Pod", request["operation"]?.string ?? "CREATE" == "CREATE",
            let pod = request["object"], pod.mapping != nil
        else { return answer() }
        let namespace = request["namespace"]?.string ?? pod["metadata"]?["namespace"]?.string ?? "default"
        let injector = self.injector()
        let podName = pod["metadata"]?["name"]?.string ?? pod["metadata"]?["generateName"]?.string ?? ""
        // The namespace says whether its pods opt in, and which Pod Security level it enforces.
        let decision = injector.decide(
            template: pod, namespace: namespace, namespaceMetadata: await self.namespaceMetadata(namespace), requireOptIn: true)
        for warning in decision.warnings {
            // The warning reaches whoever created the pod (kubectl prints it); a controller's pods leave it here only.
            self.logger.warning("\(warning)", metadata: ["namespace": "\(namespace)", "pod": "\(podName)"])
        }
        if let reason = decision.skip {
            self.logger.debug("pod not injected", metadata: ["namespace": "\(namespace)", "pod": "\(podName)", "reason": "\(reason)"])
            return answer(warnings: decision.warnings)
        }
        do {
            let injection = try injector.injection(template: pod, owner: Self.owner(of: pod), namespace: namespace)
            self.logger.info("pod injected", metadata: ["namespace": "\(namespace)", "pod": "\(podName)"])
            return answer(patch: injection.jsonPatch(for: pod), warnings: decision.warnings)
        } catch {
            self.logger.warning("pod not injected", metadata: ["namespace": "\(namespace)", "pod": "\(podName)", "error": "\(error)"])
            return answer(warnings: decision.warnings + ["the proxy was not injected: \(error)"])
        }
    }

    /// The workload owning a pod: its controller reference, a ReplicaSet made by a Deployment read as that
    /// Deployment (its name less the `pod-template-hash` suffix).
    static func owner(of pod: Node) -> (kind: String, name: String)? {
        let references = pod["metadata"]?["ownerReferences"]?.sequence.map(Array.init) ?? []
        guard let reference = references.first(where: { $0["controller"]?.bool == true }) ?? references.first,
            let kind = reference["kind"]?.string, let name = reference["name"]?.string
        else { return nil }
        if kind == "ReplicaSet", let hash = pod["metadata"]?["labels"]?["pod-template-hash"]?.string, name.hasSuffix("-" + hash) {
            return ("Deployment", String(name.dropLast(hash.count + 1)))
        }
        return (kind, name)
    }

    /// How deeply `[` and `{` nest in JSON text, outside strings.
    static func depth(of body: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in body {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
