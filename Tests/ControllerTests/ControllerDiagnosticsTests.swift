import MeshModel
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Controller

/// What `swiftlet diagnostics endpoints` and `policy` print, from manifests as a user writes them, and that only an
/// operator on the controller's host gets it.
@Suite struct ControllerDiagnosticsTests {
    static let manifests = """
        apiVersion: v1
        kind: Service
        metadata: {name: voting, namespace: emojivoto, annotations: {retry.swiftlet.io/http: gateway-error}}
        spec: {selector: {app: voting}, ports: [{name: http, port: 8080, targetPort: http}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting-v2, namespace: emojivoto}
        spec: {selector: {app: voting-v2}, ports: [{name: http, port: 8080, appProtocol: kubernetes.io/h2c}]}
        ---
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: voting-0, namespace: emojivoto, labels: {app: voting}}
        spec: {address: 10.0.0.5, serviceAccount: voting, ports: [{name: http, port: 9001}], meshed: true}
        ---
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: voting-1, namespace: emojivoto, labels: {app: voting}}
        spec: {address: 10.0.0.6, serviceAccount: voting, ports: [{name: http, port: 9001}], meshed: false}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: voting-split, namespace: emojivoto}
        spec:
          parentRefs: [{group: "", kind: Service, name: voting, port: 8080}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /api}, method: POST, headers: [{name: x-canary, value: "yes"}]}]
            filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-split, value: canary}]}}]
            backendRefs: [{name: voting, port: 8080, weight: 90}, {name: voting-v3, port: 8080, weight: 10}]
            timeouts: {request: 2s, backendRequest: 500ms}
          - backendRefs: [{name: voting, port: 8080}]

        """

    static func index() throws -> ClusterIndex {
        let index = ClusterIndex()
        _ = index.apply(ClusterSnapshot(try ManifestParser.parse(Self.manifests, file: "mesh.yaml")))
        return index
    }

    static func ask(_ path: String, _ query: [String: String], from loopback: Bool = true) throws -> AdminHTTPServer.Response {
        ControllerDiagnostics.answer(
            AdminHTTPServer.Request(method: .GET, path: path, query: query, fromLoopback: loopback), index: try Self.index(),
            clusterDomain: "cluster.local")
    }

    @Test func endpointsAreATableWithIdentityProtocolAndLabels() throws {
        let answer = try Self.ask("/debug/endpoints", ["authority": "voting:8080", "namespace": "emojivoto"])
        #expect(answer.status == .ok)
        let lines = answer.body.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(answer.body.hasPrefix("Service emojivoto/voting port 8080: 2 endpoints (dst_namespace=emojivoto,dst_service=voting)\n"))
        #expect(lines[1] == ["ENDPOINT", "WEIGHT", "IDENTITY", "PROTOCOL", "LABELS"])
        #expect(
            lines[2].prefix(4) == ["10.0.0.5:9001", "10000", "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local", "detect"])
        #expect(lines[2].last?.contains("dst_pod=voting-0") == true)
        #expect(lines[3].prefix(4) == ["10.0.0.6:9001", "10000", "(not", "meshed)"])
        let h2 = try Self.ask("/debug/endpoints", ["authority": "voting-v2.emojivoto.svc.cluster.local:8080"])
        #expect(h2.body.contains("no endpoints"), "\(h2.body)")
    }

    @Test func whatIsNotThereIsSaidAsSuch() throws {
        let wrongPort = try Self.ask("/debug/endpoints", ["authority": "voting.emojivoto:80"])
        #expect(wrongPort.status == .notFound && wrongPort.body == "Service emojivoto/voting has no port 80 (its ports: 8080)\n")
        let absent = try Self.ask("/debug/policy", ["authority": "ballot.emojivoto:8080"])
        #expect(absent.status == .notFound && absent.body.hasPrefix("no Service emojivoto/ballot: "), "\(absent.body)")
        let external = try Self.ask("/debug/endpoints", ["authority": "example.org:443"])
        #expect(
            external.status == .notFound
                && external.body == "no Service org/example: proxies resolve example.org:443 by DNS and send it there, without routes\n",
            "\(external.body)")
        #expect(try Self.ask("/debug/endpoints", [:]).status == .badRequest)
    }

    @Test func onlyTheControllersHostIsAnswered() throws {
        let refused = try Self.ask("/debug/policy", ["authority": "voting.emojivoto:8080"], from: false)
        #expect(refused.status == .forbidden && refused.body.contains("kubectl port-forward"))
    }

    @Test func policyIsTheRoutesInWords() throws {
        let answer = try Self.ask("/debug/policy", ["authority": "voting.emojivoto:8080"])
        #expect(answer.status == .ok)
        #expect(
            answer.body == """
                Service emojivoto/voting port 8080
                  retry budget: 20 % of requests, at least 10/s, over 10 s
                  HTTPRoute emojivoto/voting-split
                    rule 1: (path under /api/ and method POST and header x-canary = yes)
                      → emojivoto/voting:8080 weight 90
                      → emojivoto/voting-v3:8080 weight 10 (backend Service emojivoto/voting-v3 does not exist: answered 500)
                      filter request headers: set x-split: canary
                      timeouts: request 2000 ms, per try 500 ms
                      retries: up to 1 on 502-504
                    rule 2: every request
                      → emojivoto/voting:8080 weight 1
                      retries: up to 1 on 502-504

                """, "\(answer.body)")
        let plain = try Self.ask("/debug/policy", ["authority": "voting-v2.emojivoto:8080"])
        #expect(plain.body.contains("no routes: the Service's own rule\n    → emojivoto/voting-v2:8080 weight 1\n"), "\(plain.body)")
    }

    /// The admin tells a route whether its client is on this host, and decodes the query.
    @Test func theAdminTellsLoopbackFromOtherHostsAndDecodesTheQuery() throws {
        func status(_ uri: String, from address: String) throws -> HTTPResponseStatus {
            let route: AdminHTTPServer.Route = { request in
                #expect(request.query == ["authority": "voting.emojivoto:8080", "note": "a b/c"])
                return request.fromLoopback ? .init(.ok, "yes\n") : .init(.forbidden, "no\n")
            }
            let channel = EmbeddedChannel(handler: AdminRequestHandler(route: route))
            channel.remoteAddress = try SocketAddress(ipAddress: address, port: 40_000)
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
                throw HarnessFailure("no response head")
            }
            _ = try channel.finish()
            return head.status
        }
        let uri = "/debug/endpoints?authority=voting.emojivoto%3A8080&note=a+b%2Fc"
        #expect(try status(uri, from: "127.0.0.1") == .ok)
        #expect(try status(uri, from: "::1") == .ok)
        #expect(try status(uri, from: "10.1.2.3") == .forbidden)
        #expect(try status(uri, from: "::ffff:10.1.2.3") == .forbidden)
        #expect(try status(uri, from: "::ffff:127.0.0.1") == .ok)
    }

    struct HarnessFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}
