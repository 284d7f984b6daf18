import Kubernetes
import Logging
import NIOCertificateReloading
import NIOHTTP1
import NIOSSL
import SwiftletAPI
import Synchronization

/// The tap API as an aggregated API of the Kubernetes API server (`APIService v1alpha1.tap.swiftlet.io`), as
/// Linkerd's tap is: a user's `swiftlet viz tap` goes to the API server with the user's own kubeconfig credentials;
/// the API server authenticates them, checks RBAC for `watch` on `deployments/tap` (say) in `tap.swiftlet.io`, and
/// forwards the request here over TLS, presenting its front-proxy certificate and naming the user in headers. Here
/// the certificate is checked against the front proxy's CA (kube-system/extension-apiserver-authentication, re-read
/// every minute, the last good kept), and the user's right to tap the target is asked again by a
/// `SubjectAccessReview`: the API server's answer, not a second policy of ours.
public final class TapAggregatedAPI: Sendable {
    let client: KubernetesClient
    let reloader: TimedCertificateReloader
    let logger: Logger
    private let state = Mutex<(front: TapFrontProxy, context: NIOSSLContext)?>(nil)

    public static let refreshInterval = Duration.seconds(60)
    /// What a refused user is told to ask for, and the role `swiftlet install` prints.
    public static let adminRole = "swiftlet-tap-admin"

    /// `certificate`/`key`: the serving certificate's files (the mounted Secret `swiftlet-tap-tls`, re-read every 30 s).
    public init(client: KubernetesClient, certificate: String, key: String, logger: Logger) throws {
        self.client = client
        self.logger = logger
        self.reloader = try TimedCertificateReloader.makeReloaderValidatingSources(
            refreshInterval: .seconds(30),
            certificateSource: .init(location: .file(path: certificate), format: .pem),
            privateKeySource: .init(location: .file(path: key), format: .pem),
            logger: logger
        )
    }

    /// The TLS context for the next connection: the serving certificate, and a client certificate required from the
    /// front proxy's CA. `nil` until the front proxy's configuration was read once (connections are then refused).
    public var context: NIOSSLContext? { self.state.withLock { $0?.context } }

    /// Reads the front proxy's configuration; a changed one makes a new TLS context. A failure keeps the last good.
    public func refresh() async throws(TapError) {
        let object: GenericObject
        do {
            object = try await self.client.get(
                ResourcePath.configMaps.inNamespace(TapFrontProxy.configMapNamespace).path(name: TapFrontProxy.configMapName),
                as: GenericObject.self)
        } catch {
            throw TapError(
                .unauthenticated, "cannot read ConfigMap \(TapFrontProxy.configMapNamespace)/\(TapFrontProxy.configMapName): \(error)")
        }
        var data: [String: String] = [:]
        if case .object(let fields)? = object.json["data"] {
            for (key, value) in fields { if let text = value.stringValue { data[key] = text } }
        }
        let front = try TapFrontProxy(configMapData: data)
        if self.state.withLock({ $0?.front == front }) { return }
        let context: NIOSSLContext
        do {
            var tls = try TLSConfiguration.makeServerConfiguration(certificateReloader: self.reloader)
            tls.minimumTLSVersion = .tlsv12
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(front.clientCAPEM.utf8)))
            // A certificate is required, and chained to the front proxy's CA; its name is checked per request.
            tls.certificateVerification = .noHostnameVerification
            tls.applicationProtocols = ["http/1.1"]
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw TapError(.unauthenticated, "the front proxy's CA or the tap API's certificate is not usable: \(error)")
        }
        self.state.withLock { $0 = (front, context) }
        self.logger.info("tap API: the API server's front proxy is trusted", metadata: ["allowed names": "\(front.allowedNames)"])
    }

    /// Keeps the configuration and the serving certificate current until cancelled. The first read is the
    /// caller's, before serving (`refresh`); this one reads again after each interval.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.reloader.run() }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: Self.refreshInterval)
                    do { try await self.refresh() } catch {
                        self.logger.warning("tap API: the front proxy's configuration", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    /// The user the front proxy forwards (after its certificate's name is checked).
    public func user(commonName: String?, headers: HTTPHeaders) throws(TapError) -> TapUser {
        guard let front = self.state.withLock({ $0?.front }) else {
            throw TapError(.unauthenticated, "the tap API has not read the front proxy's configuration yet")
        }
        return try front.user(commonName: commonName, headers: headers)
    }

    /// Whether `user` may tap `target`: a SubjectAccessReview for `watch` on its kind's `tap` subresource.
    public func authorize(_ user: TapUser, _ target: Swiftlet_Tap_V1_Resource) async throws(TapError) {
        let attributes = Self.attributes(target)
        let review = SubjectAccessReview(user: user.name, groups: user.groups, extra: user.extra, uid: nil, attributes: attributes)
        let answer: SubjectAccessReview
        do {
            answer = try await self.client.post(SubjectAccessReview.path, review)
        } catch {
            throw TapError(.forbidden, "tap authorization could not be checked (a SubjectAccessReview failed: \(error))")
        }
        guard answer.status?.allowed == true else {
            throw TapError(.forbidden, Self.refusal(user: user.name, attributes))
        }
    }

    /// What the API server checks for the tap's path (`TapAPIPath`): verb `watch`, the target's resource, `tap`.
    public static func attributes(_ target: Swiftlet_Tap_V1_Resource) -> SubjectAccessReview.ResourceAttributes {
        let kind = TapResourceKind(parsing: target.type)
        let resource = kind?.plural ?? target.type
        return SubjectAccessReview.ResourceAttributes(
            namespace: target.namespace, verb: "watch", group: TapAPIPath.group, version: TapAPIPath.version, resource: resource,
            subresource: "tap", name: kind == .namespace ? target.namespace : (target.name.isEmpty ? nil : target.name))
    }

    /// The refusal, with how to be granted it.
    static func refusal(user: String, _ attributes: SubjectAccessReview.ResourceAttributes) -> String {
        let what = "\(attributes.resource)/tap" + (attributes.name.map { " \"\($0)\"" } ?? "")
        return "tap authorization failed: User \"\(user)\" cannot watch \(what) in API group \"\(TapAPIPath.group)\" in the namespace "
            + "\"\(attributes.namespace ?? "")\". " + Self.hint(user: user)
    }

    /// How a refused user gets the right: the ClusterRole install made, bound to them.
    public static func hint(user: String?) -> String {
        let subject =
            user.map {
                $0.hasPrefix("system:serviceaccount:")
                    ? "--serviceaccount=\($0.split(separator: ":").dropFirst(2).joined(separator: ":"))" : "--user=\($0)"
            }
            ?? "--user=YOU"
        return "Tapping needs the ClusterRole \(Self.adminRole) (or a Role granting watch on <kind>/tap in \(TapAPIPath.group)); "
            + "an admin grants it with: kubectl create clusterrolebinding \(Self.bindingName(user))-tap "
            + "--clusterrole=\(Self.adminRole) \(subject)"
    }

    static func bindingName(_ user: String?) -> String {
        let name = (user ?? "you").lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(name.prefix(40))
    }
}
