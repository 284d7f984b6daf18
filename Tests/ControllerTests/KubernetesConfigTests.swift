import Foundation
import Kubernetes
import Testing

/// How the controller and the CLI find the API: a pod's service-account files, or a kubeconfig as kubectl reads it.
@Suite struct KubernetesConfigTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func inClusterReadsTheServiceAccountFilesAndTheServiceEnvironment() throws {
        let dir = try Self.directory()
        try "CA".write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        try "token-1\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "swiftlet".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        let config = try KubernetesConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: dir
        )
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.namespace == "swiftlet")
        #expect(config.certificateAuthorityPEM == Array("CA".utf8))
        #expect(config.credential == .tokenFile(dir + "/token"))
        #expect(throws: KubernetesError.self) { try KubernetesConfig.inCluster(environment: [:], directory: dir) }
    }

    @Test func aKubeconfigsContextGivesServerCAAndCredentialsWithFilesRelativeToIt() throws {
        let dir = try Self.directory()
        try "CA-PEM".write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - {name: one, cluster: {server: "https://one:6443", certificate-authority: ca.pem}}
            - {name: two, cluster: {server: "https://two:6443", certificate-authority-data: \(Data("TWO".utf8).base64EncodedString())}}
            users:
            - {name: alice, user: {tokenFile: /var/run/token}}
            - {name: bob, user: {token: abc}}
            - {name: plugin, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}}
            contexts:
            - {name: a, context: {cluster: one, user: alice, namespace: apps}}
            - {name: b, context: {cluster: two, user: bob}}
            - {name: c, context: {cluster: two, user: plugin}}
            current-context: a
            """
        try text.write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let a = try KubernetesConfig.kubeconfig(path: dir + "/config")
        #expect(a.server == "https://one:6443")
        #expect(a.certificateAuthorityPEM == Array("CA-PEM".utf8))
        #expect(a.credential == .tokenFile("/var/run/token"))
        #expect(a.namespace == "apps")
        let b = try KubernetesConfig.kubeconfig(path: dir + "/config", context: "b")
        #expect(b.certificateAuthorityPEM == Array("TWO".utf8))
        #expect(b.credential == .token("abc"))
        #expect(b.namespace == "default")
        // A plugin swiftlet does not run, and a context that is not there: clear errors, not a silent anonymous client.
        #expect(throws: KubernetesError.self) { try KubernetesConfig.kubeconfig(path: dir + "/config", context: "c") }
        #expect(throws: KubernetesError.self) { try KubernetesConfig.kubeconfig(path: dir + "/config", context: "nope") }
    }
}
