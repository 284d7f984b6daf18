import Foundation
import MeshModel
import Testing

/// The CLI's conventions, run as a user runs them: versions, completion scripts, one-line runtime errors with exit
/// status 1 and usage errors with 64, and what `inject` does with input that is not a manifest.
@Suite struct CLITests {
    static func swiftlet(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> (
        status: Int32, output: String, report: String
    ) {
        try await TimingSensitiveTests.InjectTests.swiftlet(arguments, stdin: stdin, environment: environment)
    }

    @Test func versionPrintsTheClientsAndSaysWhenNoClusterIsThere() async throws {
        let short = try await Self.swiftlet(["version", "--client", "--short"])
        #expect(short.status == 0 && short.output == "\(SwiftletVersion.current)\n", "\(short)")
        // No cluster (an empty kubeconfig path, no in-cluster variables): the server's version is unavailable, not
        // an error.
        let full = try await Self.swiftlet(["version", "--kubeconfig", "/nonexistent/kubeconfig"])
        #expect(full.status == 0, "\(full)")
        #expect(full.output.hasPrefix("Client version: \(SwiftletVersion.current)\nServer version: unavailable ("), "\(full.output)")
    }

    @Test(.enabled(if: E2E.available("openssl", "curl")))
    func versionReadsTheControlPlaneAndTheProxiesFromTheCluster() async throws {
        let api = try await KubeAPIServer.start()
        defer { api.stop() }
        _ = try await TimingSensitiveTests.CheckTests.healthy(api)
        try await api.apply([TimingSensitiveTests.CheckTests.meshedPod(ready: true, version: "0.0.9", name: "web-old")])
        let result = try await Self.swiftlet(["version", "--kubeconfig", api.kubeconfig.path])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.output == """
                Client version: \(SwiftletVersion.current)
                Server version: \(SwiftletVersion.current)
                Proxy version: 0.0.9 (1 pod)
                Proxy version: \(SwiftletVersion.current) (1 pod)

                """, "\(result.output)")
    }

    @Test func completionScriptsForEachShellAndAClearErrorForOthers() async throws {
        let bash = try await Self.swiftlet(["completion", "bash"])
        #expect(bash.status == 0 && bash.output.hasPrefix("#!/bin/bash") && bash.output.contains("install"), "\(bash.report)")
        #expect(try await Self.swiftlet(["completion", "zsh"]).output.hasPrefix("#compdef swiftlet"))
        #expect(try await Self.swiftlet(["completion", "fish"]).output.contains("complete -c 'swiftlet'"))
        let other = try await Self.swiftlet(["completion", "tcsh"])
        #expect(other.status == 64 && other.report.contains("\"tcsh\" is not bash, zsh or fish"), "\(other)")
    }

    @Test func aRuntimeErrorIsOneLineAndExitStatusOneAUsageErrorNamesTheFlag() async throws {
        let missing = try await Self.swiftlet(["inject", "/nonexistent/web.yaml"])
        #expect(missing.status == 1, "\(missing)")
        #expect(
            missing.report == "Error: /nonexistent/web.yaml: no such file or directory\n", "the file before the cluster: \(missing.report)")
        let usage = try await Self.swiftlet(["demo", "--rps", "0"])
        #expect(usage.status == 64 && usage.report.contains("--rps: must be positive"), "\(usage)")
        let negative = try await Self.swiftlet(["identity", "generate", "--days=-3", "--out", "/tmp"])
        #expect(negative.status == 64 && negative.report.contains("--days: must be positive"), "\(negative)")
    }

    @Test func injectRefusesBinaryAndEmptyInputReadsDirectoriesAndSaysWhenThereWasNothingToDo() async throws {
        let directory = try E2E.temporaryDirectory()
        let binary = directory.appendingPathComponent("image.yaml")
        try Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01]).write(to: binary)
        let refused = try await Self.swiftlet(["uninject", binary.path])
        #expect(refused.status == 1 && refused.output.isEmpty, "nothing echoed: \(refused)")
        #expect(refused.report.contains("not YAML or JSON (the file is binary)"), "\(refused.report)")

        let empty = try await Self.swiftlet(["uninject"], stdin: "")
        #expect(empty.status == 1 && empty.report.contains("nothing on standard input"), "\(empty)")

        // A directory: its manifests, recursively and in order; a ConfigMap alone gets a note, not silence.
        let tree = directory.appendingPathComponent("manifests/apps", isDirectory: true)
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: TimingSensitiveTests.InjectTests.workloads.appendingPathComponent("web.yaml"), to: tree.appendingPathComponent("web.yaml"))
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n".write(
            to: directory.appendingPathComponent("manifests/config.yaml"), atomically: true, encoding: .utf8)
        try "not a manifest".write(to: directory.appendingPathComponent("manifests/README.md"), atomically: true, encoding: .utf8)
        let anchors = try await TimingSensitiveTests.InjectTests.anchors()
        let injected = try await Self.swiftlet([
            "inject", "--identity-trust-anchors-file", anchors, directory.appendingPathComponent("manifests").path,
        ])
        #expect(injected.status == 0, "\(injected)")
        #expect(injected.report.contains("manifests/apps/web.yaml") == false, "\(injected.report)")
        #expect(injected.report.contains("deployment \"web\" injected"), "\(injected.report)")
        #expect(injected.report.contains("config.yaml: nothing injected"), "\(injected.report)")
        #expect(injected.output.contains("name: settings") && injected.output.contains("swiftlet-proxy"), "\(injected.output)")
    }

    /// `swiftlet diagnostics`, against a running controller and proxy as an operator with port-forwards uses it.
    @Test func diagnosticsShowWhatTheControllerSendsAndWhatAProxyHas() async throws {
        let directory = try E2E.temporaryDirectory()
        try """
        apiVersion: v1
        kind: Service
        metadata: {name: voting, namespace: emojivoto}
        spec: {selector: {app: voting}, ports: [{name: http, port: 8080, targetPort: http}]}
        ---
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: voting-0, namespace: emojivoto, labels: {app: voting}}
        spec: {address: 127.0.0.1, serviceAccount: voting, ports: [{name: http, port: 9001}], meshed: true}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: votes, namespace: emojivoto}
        spec:
          parentRefs: [{group: "", kind: Service, name: voting, port: 8080}]
          rules:
          - matches: [{path: {type: Exact, value: /api/vote}}]
            backendRefs: [{name: voting, port: 8080}]
            timeouts: {request: 3s}

        """.write(to: directory.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)
        let controller = try await ControllerProcess.start(manifests: directory)
        defer { controller.child.stop() }
        let admin = ["--controller-admin-addr", "127.0.0.1:\(controller.adminPort)"]

        let endpoints = try await Self.swiftlet(["diagnostics", "endpoints", "voting:8080", "-n", "emojivoto"] + admin)
        #expect(endpoints.status == 0, "\(endpoints)")
        #expect(endpoints.output.hasPrefix("Service emojivoto/voting port 8080: 1 endpoint "), "\(endpoints.output)")
        #expect(endpoints.output.contains("127.0.0.1:9001  10000   voting.emojivoto.serviceaccount.identity."), "\(endpoints.output)")

        let policy = try await Self.swiftlet(["diagnostics", "policy", "voting.emojivoto.svc.cluster.local:8080"] + admin)
        #expect(policy.status == 0, "\(policy)")
        #expect(policy.output.contains("HTTPRoute emojivoto/votes\n    rule 1: (path = /api/vote)\n"), "\(policy.output)")
        #expect(policy.output.contains("timeouts: request 3000 ms"), "\(policy.output)")

        let wrongPort = try await Self.swiftlet(["diagnostics", "endpoints", "voting.emojivoto:80"] + admin)
        #expect(
            wrongPort.status == 1 && wrongPort.report.hasSuffix("404 Service emojivoto/voting has no port 80 (its ports: 8080)\n"),
            "\(wrongPort)")

        let proxy = try await ProxyProcess.start()
        defer { proxy.child.stop() }
        let metrics = try await Self.swiftlet(["diagnostics", "proxy-metrics", "--admin-addr", "127.0.0.1:\(proxy.adminPort)"])
        #expect(metrics.status == 0, "\(metrics.report)")
        #expect(metrics.output.contains("\nprocess_start_time_seconds "), "the proxy's own families, whole: \(metrics.output.suffix(300))")

        controller.child.stop()
        _ = try await controller.child.waitForExit()
        let gone = try await Self.swiftlet(["diagnostics", "policy", "voting.emojivoto:8080"] + admin)
        #expect(gone.status == 1 && gone.report.hasPrefix("Error: nothing answers at http://127.0.0.1:"), "\(gone)")
        #expect(gone.report.contains("kubectl port-forward"), "\(gone.report)")
    }
}
