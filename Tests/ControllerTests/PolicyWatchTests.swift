import Controller
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import MeshModel
import ProxyCore
import SwiftletAPI
import Testing

/// The Policy API's Watch, over a real gRPC connection to the controller's server, fed by a directory of YAML.
@Suite struct PolicyWatchTests {
    static let voting = """
        apiVersion: v1
        kind: Service
        metadata: {name: voting, namespace: emojivoto}
        spec: {selector: {app: voting}, ports: [{name: http, port: 8080}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: voting-v2, namespace: emojivoto}
        spec: {selector: {app: voting-v2}, ports: [{name: http, port: 8080}]}

        """

    static func split(_ v1: Int, _ v2: Int) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: split, namespace: emojivoto}
        spec:
          parentRefs: [{group: core, kind: Service, name: voting, port: 8080}]
          rules:
          - backendRefs:
            - {name: voting, port: 8080, weight: \(v1)}
            - {name: voting-v2, port: 8080, weight: \(v2)}

        """
    }

    @Test func aSubscriberGetsThePolicyThenEachRouteChangeAndNothingForOtherChanges() throws {
        let index = ClusterIndex()
        var objects = try ManifestParser.parse(Self.voting, file: "svc.yaml")
        index.apply(ClusterSnapshot(objects))
        let received = ReceivedPolicies()
        let subscription = index.subscribePolicy(
            DestinationAuthority(service: ObjectKey(namespace: "emojivoto", name: "voting"), port: 8080)
        ) {
            received.append($0)
        }
        defer { subscription.cancel() }
        #expect(received.all.count == 1)
        #expect(received.all.last??.routes.isEmpty == true)

        objects += try ManifestParser.parse(Self.split(90, 10), file: "route.yaml")
        index.apply(ClusterSnapshot(objects))
        #expect(received.all.count == 2)
        #expect(received.all.last??.routes.first?.rules.first?.backends.map(\.weight) == [90, 10])

        // A workload joining changes endpoints, not policy: nothing is sent.
        let workload = try ManifestParser.parse(
            """
            apiVersion: swiftlet.io/v1alpha1
            kind: Workload
            metadata: {name: voting-0, namespace: emojivoto, labels: {app: voting}}
            spec: {address: 127.0.0.1, ports: [{name: http, port: 7001}]}
            """, file: "w.yaml")
        index.apply(ClusterSnapshot(objects + workload))
        #expect(received.all.count == 2)
    }

    @Test func aProxyFollowsARouteEditOverTheWatchStream() async throws {
        let directory = NSTemporaryDirectory() + "swiftlet-policy-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.voting.write(toFile: directory + "/svc.yaml", atomically: false, encoding: .utf8)
        try Self.split(100, 0).write(toFile: directory + "/route.yaml", atomically: false, encoding: .utf8)
        let index = ClusterIndex()
        let metrics = ControllerMetrics()
        let logger = Logger(label: "test")
        let source = FileSource(directory: directory, index: index, metrics: metrics, logger: logger)
        let server = try DestinationServer(
            host: "127.0.0.1", port: 0, services: [PolicyService(index: index, metrics: metrics, logger: logger)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            group.addTask { try await server.run() }
            try await source.loaded()
            let port = try await server.listeningPort()
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            let client = GRPCClient(transport: transport)
            group.addTask { try await client.runConnections() }
            let policies = Swiftlet_Policy_V1_OutboundPolicies.Client(wrapping: client)
            let (requests, requestWriter) = AsyncStream.makeStream(of: Swiftlet_Policy_V1_WatchRequest.self)
            requestWriter.yield(
                .with {
                    $0.subscribe = .with {
                        $0.id = 7
                        $0.authority = "voting.emojivoto.svc.cluster.local:8080"
                    }
                })
            requestWriter.yield(
                .with {
                    $0.subscribe = .with {
                        $0.id = 8
                        $0.authority = "example.com:80"
                    }
                })
            let weights = try await policies.watch { writer in
                for await request in requests { try await writer.write(request) }
            } onResponse: { response in
                var weights: [[UInt32]] = []
                var sawNoPolicy = false
                for try await update in response.messages {
                    if update.id == 8 {
                        sawNoPolicy = !update.hasPolicy
                        continue
                    }
                    #expect(update.id == 7)
                    let backends = update.policy.routes.first?.rules.first?.backends ?? []
                    #expect(update.policy.name == "voting" && update.policy.port == 8080)
                    weights.append(backends.map(\.weight))
                    if weights.count == 1 {
                        // The edit a user makes to move the canary.
                        try Self.split(50, 50).write(toFile: directory + "/route.yaml", atomically: false, encoding: .utf8)
                    } else {
                        break
                    }
                }
                #expect(sawNoPolicy, "a name outside the cluster gets an answer without a policy")
                requestWriter.finish()
                return weights
            }
            #expect(weights == [[100, 0], [50, 50]])
            client.beginGracefulShutdown()
            group.cancelAll()
        }
    }
}

/// What a subscription delivered, in order (delivery runs under the index's lock, from any thread).
final class ReceivedPolicies: @unchecked Sendable {
    private let lock = NSLock()
    private var policies: [ServicePolicy?] = []

    func append(_ policy: ServicePolicy?) { self.lock.withLock { self.policies.append(policy) } }
    var all: [ServicePolicy?] { self.lock.withLock { self.policies } }
}
