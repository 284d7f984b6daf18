import ArgumentParser
import Controller
import Kubernetes
import SwiftletAPI

/// What `viz tap` and `viz top` share: the target, Linkerd's filters, and where the tap API is.
struct TapOptions: ParsableArguments {
    @Argument(help: "What to tap: TYPE[/NAME] or TYPE NAME (deploy/web, ns/shop, pod web-1, sts). TYPE alone: every one of it.")
    var target: [String] = []

    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The target's namespace.")
    var namespace = "default"

    @Option(help: "Only requests to this resource: TYPE/NAME (svc/web, deploy/web, pod/web-1, ns/shop).")
    var to: String?

    @Option(help: "The --to resource's namespace (default: the target's).")
    var toNamespace: String?

    @Option(help: "Requests tapped per second at most, over all the target's pods.")
    var maxRps = 100

    @Option(help: "Only requests with this scheme (http, https).")
    var scheme: String?

    @Option(help: "Only requests with this method (GET, POST, …).")
    var method: String?

    @Option(help: "Only requests with this :authority (exact).")
    var authority: String?

    @Option(help: "Only requests whose path starts with this.")
    var path: String?

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Only the target's pods with these labels (key=value,…).")
    var selector: String?

    @Flag(help: "Opaque TCP connections too (open and close events).")
    var tcp = false

    @Option(
        help: """
            The tap API of a local controller (its --tap-addr). Without it, a kubeconfig (--kubeconfig, $KUBECONFIG, \
            ~/.kube/config or in-cluster) taps through that cluster's API server; with none, 127.0.0.1:8089.
            """)
    var tapAddr: String?

    @Option(help: "The kubeconfig to tap a cluster with (default: $KUBECONFIG, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig's context (default: its current context).")
    var context: String?

    /// Where the tap API is, as kubectl finds a cluster; a local controller when told or when there is no cluster.
    func endpoint() throws -> TapEndpoint {
        if let tapAddr = self.tapAddr { return .local(address: tapAddr) }
        do throws(KubernetesError) {
            return .kubernetes(try KubernetesConfig.resolve(kubeconfig: self.kubeconfig, context: self.context))
        } catch  where self.kubeconfig == nil && self.context == nil && error.code == .configuration {
            return .local(address: "127.0.0.1:8089")
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    func validate() throws {
        _ = try self.resource()
        if let to = self.to { _ = try Self.resource(to.split(separator: "/", maxSplits: 1).map(String.init), namespace: "", role: "--to") }
        guard self.maxRps > 0 else { throw ValidationError("--max-rps must be more than 0") }
    }

    /// The target as the API names it.
    func resource() throws -> Swiftlet_Tap_V1_Resource {
        let words = self.target.count == 1 ? self.target[0].split(separator: "/", maxSplits: 1).map(String.init) : self.target
        return try Self.resource(words, namespace: self.namespace, role: "the target")
    }

    static func resource(_ words: [String], namespace: String, role: String) throws -> Swiftlet_Tap_V1_Resource {
        guard (1...2).contains(words.count), words.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("name \(role) as TYPE/NAME, TYPE NAME or TYPE (deploy/web, ns/shop, pod web-1)")
        }
        guard let kind = TapResourceKind(parsing: words[0]) else {
            throw ValidationError(
                "\"\(words[0])\" is not a kind tap knows; use one of "
                    + (role == "--to" ? TapResourceKind.destinations : TapResourceKind.targets).map(\.rawValue).joined(separator: ", "))
        }
        return Swiftlet_Tap_V1_Resource.with {
            $0.type = kind.rawValue
            $0.namespace = namespace
            $0.name = words.count == 2 ? words[1] : (kind == .namespace ? namespace : "")
        }
    }

    /// The request the tap API gets; `headers` asks for headers and trailers (JSON output shows them).
    func request(headers: Bool) throws -> Swiftlet_Tap_V1_TapByResourceRequest {
        var request = Swiftlet_Tap_V1_TapByResourceRequest()
        request.target = try self.resource()
        if let to = self.to {
            request.to = try Self.resource(
                to.split(separator: "/", maxSplits: 1).map(String.init), namespace: self.toNamespace ?? self.namespace, role: "--to")
        }
        request.maxRps = UInt32(self.maxRps)
        request.tcp = self.tcp
        request.labelSelector = self.selector ?? ""
        typealias Match = Swiftlet_Tap_V1_ObserveRequest.Match
        var matches: [Match] = []
        func http(_ set: (inout Match.Http) -> Void) {
            var match = Match()
            match.http = Match.Http.with(set)
            matches.append(match)
        }
        if let scheme = self.scheme {
            http {
                $0.scheme = Swiftlet_Tap_V1_Scheme.with {
                    switch scheme.lowercased() {
                    case "http": $0.registered = .http
                    case "https": $0.registered = .https
                    default: $0.unregistered = scheme
                    }
                }
            }
        }
        if let method = self.method {
            http {
                $0.method = Swiftlet_Tap_V1_HttpMethod.with {
                    let registered: [String: Swiftlet_Tap_V1_HttpMethod.Registered] = [
                        "GET": .get, "POST": .post, "PUT": .put, "DELETE": .delete, "PATCH": .patch, "OPTIONS": .options,
                        "CONNECT": .connect, "HEAD": .head, "TRACE": .trace,
                    ]
                    if let known = registered[method.uppercased()] { $0.registered = known } else { $0.unregistered = method }
                }
            }
        }
        if let authority = self.authority { http { $0.authority = .with { $0.exact = authority } } }
        if let path = self.path { http { $0.path = .with { $0.prefix = path } } }
        if let match = TapTargetResolver.all(matches) { request.match = match }
        if headers { request.extract = .with { $0.http = .with { $0.headers = .init() } } }
        return request
    }
}
