import Foundation
import Testing

extension TimingSensitiveTests {
    /// The controller over a directory of YAML, proxies resolving through it, real upstreams and steady load.
    @Suite(.serialized) struct DiscoveryTests {
        static func service() -> String {
            """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: demo}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 8080, targetPort: http}]

            """
        }

        static func workload(_ name: String, port: Int) -> String {
            """
            apiVersion: swiftlet.io/v1alpha1
            kind: Workload
            metadata: {name: \(name), namespace: demo, labels: {app: web}}
            spec: {serviceAccount: web, address: 127.0.0.1, ports: [{name: http, port: \(port)}]}

            """
        }

        /// Writes a file the way an editor or `kubectl apply` tooling would: whole, then renamed into place.
        static func write(_ text: String, to url: URL) throws {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        static func proxy(controllerPort: Int) async throws -> ProxyProcess {
            try await ProxyProcess.start([
                "SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:\(controllerPort)", "SWIFTLET_PROXY_NAMESPACE": "demo",
            ])
        }

        @Test func endpointsJoinAndLeaveWhileTrafficFlowsWithoutAFailedRequest() async throws {
            try E2E.need("curl")
            let directory = try E2E.temporaryDirectory()
            let a = try await FixtureProcess.start("upstream.py")
            let b = try await FixtureProcess.start("upstream.py")
            try Self.write(Self.service(), to: directory.appendingPathComponent("service.yaml"))
            try Self.write(Self.workload("web-a", port: a.port), to: directory.appendingPathComponent("web-a.yaml"))
            let controller = try await ControllerProcess.start(manifests: directory)
            let proxy = try await Self.proxy(controllerPort: controller.destinationPort)
            let load = try LoadProcess(port: proxy.outboundPort, authority: "web:8080")
            defer { withExtendedLifetime((a, b, controller, proxy)) {} }
            do {
                try await load.waitFor("traffic to web-a") { $0.byPort[a.port, default: 0] >= 50 }

                // A second endpoint joins: it gets traffic.
                try Self.write(Self.workload("web-b", port: b.port), to: directory.appendingPathComponent("web-b.yaml"))
                try await load.waitFor("traffic to web-b") { $0.byPort[b.port, default: 0] >= 50 }

                // The first leaves gracefully (removed from the mesh, still running): traffic moves off it entirely.
                try FileManager.default.removeItem(at: directory.appendingPathComponent("web-a.yaml"))
                let bAtRemoval = try await load.waitFor("traffic after the removal") { _ in true }.byPort[b.port, default: 0]
                let settled = try await load.waitFor("web-b serving alone") { $0.byPort[b.port, default: 0] >= bAtRemoval + 300 }
                let later = try await load.waitFor("more traffic") {
                    $0.byPort[b.port, default: 0] >= settled.byPort[b.port, default: 0] + 300
                }
                #expect(later.byPort[a.port, default: 0] == settled.byPort[a.port, default: 0], "web-a still got requests after it left")

                let final = try await load.finish()
                #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
                #expect(final.ok > 600)
                // The proxy's metrics name the endpoints with discovery's labels.
                #expect(
                    try await proxy.metric(
                        "request_total", "dst_service=\"web\"", "dst_pod=\"web-b\"", "dst_namespace=\"demo\"", "dst_deployment=\"web\"") > 0
                )
            }
        }

        @Test func aControllerRestartMidTrafficFailsNoRequest() async throws {
            try E2E.need("curl")
            let directory = try E2E.temporaryDirectory()
            let a = try await FixtureProcess.start("upstream.py")
            let b = try await FixtureProcess.start("upstream.py")
            try Self.write(
                Self.service() + "---\n" + Self.workload("web-a", port: a.port), to: directory.appendingPathComponent("web.yaml"))
            let first = try await ControllerProcess.start(manifests: directory)
            let port = first.destinationPort
            let proxy = try await Self.proxy(controllerPort: port)
            let load = try LoadProcess(port: proxy.outboundPort, authority: "web.demo.svc.cluster.local:8080")
            defer { withExtendedLifetime((a, b, proxy)) {} }
            do {
                let before = try await load.waitFor("traffic to web-a") { $0.byPort[a.port, default: 0] >= 50 }

                // The controller goes away: the proxy keeps its endpoints and traffic goes on.
                first.child.signal(SIGTERM)
                _ = try await first.child.waitForExit()
                try await load.waitFor("traffic while the controller is down") { $0.ok >= before.ok + 300 }

                // A new controller on the same port, with a changed directory: the proxy reconnects and follows it.
                try Self.write(
                    Self.service() + "---\n" + Self.workload("web-a", port: a.port) + "---\n" + Self.workload("web-b", port: b.port),
                    to: directory.appendingPathComponent("web.yaml"))
                let second = try await ControllerProcess.start(manifests: directory, destinationPort: port)
                defer { withExtendedLifetime(second) {} }
                try await load.waitFor("traffic to web-b after the restart") { $0.byPort[b.port, default: 0] >= 50 }
                let final = try await load.finish()
                #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
            }
        }

        @Test func aMalformedFileKeepsThePreviousStateAndIsReportedWithItsLine() async throws {
            try E2E.need("curl")
            let directory = try E2E.temporaryDirectory()
            let a = try await FixtureProcess.start("upstream.py")
            let file = directory.appendingPathComponent("web.yaml")
            try Self.write(Self.service() + "---\n" + Self.workload("web-a", port: a.port), to: file)
            let controller = try await ControllerProcess.start(manifests: directory)
            let proxy = try await Self.proxy(controllerPort: controller.destinationPort)
            let load = try LoadProcess(port: proxy.outboundPort, authority: "web:8080")
            defer { withExtendedLifetime((a, controller, proxy)) {} }
            do {
                let before = try await load.waitFor("traffic to web-a") { $0.byPort[a.port, default: 0] >= 50 }
                // Line 12: the workload's spec loses its closing brace.
                try Self.write(
                    Self.service() + "---\n" + Self.workload("web-a", port: a.port).replacingOccurrences(of: "}]}", with: "}]"), to: file)
                let report = try await controller.child.waitForLine(containing: "manifest rejected")
                #expect(report.contains("\(file.path):"), "the report names the file: \(report)")
                #expect(try await controller.metric("controller_manifest_files_in_error") == 1)
                try await load.waitFor("traffic after the bad edit") { $0.ok >= before.ok + 300 }
                let final = try await load.finish()
                #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
                #expect(final.byPort[a.port, default: 0] == final.ok)
            }
        }

        /// A proxy follows every destination on one `Watch` stream: destinations in use are subscribed, an idle one is
        /// dropped (the controller is told), and using it again subscribes it again.
        @Test func destinationsAreFollowedOnOneStreamAndDroppedWhenIdle() async throws {
            try E2E.need("curl")
            let directory = try E2E.temporaryDirectory()
            let a = try await FixtureProcess.start("upstream.py")
            try Self.write(
                Self.service() + "---\n" + Self.workload("web-a", port: a.port), to: directory.appendingPathComponent("web.yaml"))
            try Self.write(Self.service().replacingOccurrences(of: "web", with: "api"), to: directory.appendingPathComponent("api.yaml"))
            let controller = try await ControllerProcess.start(manifests: directory)
            let proxy = try await ProxyProcess.start([
                "SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:\(controller.destinationPort)", "SWIFTLET_PROXY_NAMESPACE": "demo",
                "SWIFTLET_PROXY_DESTINATION_IDLE_TIMEOUT": "1s", "SWIFTLET_PROXY_LOG": "debug",
            ])
            defer { withExtendedLifetime((a, controller, proxy)) {} }
            func get(_ authority: String) async throws -> String {
                try await run(
                    "curl",
                    [
                        "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: \(authority)",
                        "http://127.0.0.1:\(proxy.outboundPort)/",
                    ]
                ).output
            }
            /// The controller's gauges settle shortly after the proxy acts: wait for them, boundedly.
            func expectController(streams: Double, subscriptions: Double) async throws {
                let deadline = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < deadline {
                    if try await controller.metric("destination_streams") == streams,
                        try await controller.metric("destination_subscriptions") == subscriptions
                    {
                        return
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let counted = try await (controller.metric("destination_streams"), controller.metric("destination_subscriptions"))
                Issue.record("controller: \(counted.0) streams, \(counted.1) subscriptions; expected \(streams), \(subscriptions)")
            }
            #expect(try await get("web:8080") == "200")
            #expect(try await get("api:8080") == "503", "a service without endpoints")
            try await expectController(streams: 1, subscriptions: 2)
            _ = try await proxy.child.waitForLine(
                where: { $0.contains("no longer followed") && $0.contains("web:8080") }, describedAs: "web idle")
            _ = try await proxy.child.waitForLine(
                where: { $0.contains("no longer followed") && $0.contains("api:8080") }, describedAs: "api idle")
            try await expectController(streams: 1, subscriptions: 0)
            #expect(try await get("web:8080") == "200")
            try await expectController(streams: 1, subscriptions: 1)
        }
    }
}
