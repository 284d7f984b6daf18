import Foundation
import Kubernetes
import MeshModel
import ProxyCore
import Testing

extension TimingSensitiveTests {
    /// `swiftlet inject` and `uninject` offline, on real-world manifests (Tests/Fixtures/workloads).
    @Suite(.enabled(if: KubernetesValidate.available, "kubernetes-validate is installed by scripts/install-test-deps"))
    struct InjectTests {
        static let workloads = E2E.fixtures.appendingPathComponent("workloads")

        /// Runs `swiftlet` with `arguments` through the shell: standard output and the report (standard error) apart.
        static func swiftlet(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> (
            status: Int32, output: String, report: String
        ) {
            let directory = try E2E.temporaryDirectory()
            let report = directory.appendingPathComponent("report").path
            let quoted = ([ControllerProcess.binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
                .joined(separator: " ")
            let result = try await run(
                "sh", ["-c", "\(quoted) 2>'\(report)'"], environment: environment, input: stdin.map { Data($0.utf8) })
            return (result.status, result.output, (try? String(contentsOfFile: report, encoding: .utf8)) ?? "")
        }

        static func anchors() async throws -> String {
            let directory = try E2E.temporaryDirectory()
            _ = try await InstallTests.swiftlet(["identity", "generate", "--out", directory.path])
            return directory.appendingPathComponent("ca.crt").path
        }

        /// Each document as JSON text (key order kept), to compare streams by meaning rather than by formatting.
        static func meaning(_ text: String) throws -> [String] {
            try DocumentStream(parsing: text).documents.map(DocumentStream.json)
        }

        @Test(
            "inject validates strict against 1.31 and 1.35, says what it did, and uninject gives the input back",
            arguments: [
                ("web.yaml", ["deployment \"web\" injected"]),
                ("db.yaml", ["statefulset \"db\" injected"]),
                (
                    "jobs.yaml",
                    [
                        "job \"report\" injected", "cronjob \"nightly\" injected",
                        "daemonset \"node-agent\" skipped: it uses the host's network",
                    ]
                ),
                ("list.json", ["replicaset \"api-7d9f\" injected", "pod \"debug\" skipped: annotated swiftlet.io/inject: disabled"]),
            ])
        func injectThenUninject(file: String, expected: [String]) async throws {
            let anchors = try await Self.anchors()
            let path = Self.workloads.appendingPathComponent(file).path
            let input = try String(contentsOfFile: path, encoding: .utf8)
            let injected = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", anchors, path])
            #expect(injected.status == 0, "\(injected.report)")
            for line in expected { #expect(injected.report.contains(line), "\(injected.report)") }
            if file.hasSuffix(".json") {
                // JSON stays JSON; a List's items are validated one by one (the schemas have no List).
                let list = try #require(try JSONSerialization.jsonObject(with: Data(injected.output.utf8)) as? [String: Any])
                let items = try #require(list["items"] as? [[String: Any]])
                let stream = try items.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.map {
                    "---\n" + $0 + "\n"
                }.joined()
                try await KubernetesValidate.check(stream)
            } else {
                try await KubernetesValidate.check(injected.output)
            }
            let uninjected = try await Self.swiftlet(["uninject", "-"], stdin: injected.output)
            #expect(uninjected.status == 0, "\(uninjected.report)")
            #expect(try Self.meaning(uninjected.output) == (try Self.meaning(input)))
            // And byte for byte: both edits were made to the text (JSON stays as laid out, YAML gains a leading `---`).
            #expect(uninjected.output == input || uninjected.output == "---\n" + input, "\(uninjected.output)")
            // A second inject changes nothing and says why.
            let again = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", anchors, "-"], stdin: injected.output)
            #expect(try Self.meaning(again.output) == (try Self.meaning(injected.output)))
            if expected.contains(where: { $0.hasSuffix(" injected") }) {
                #expect(again.report.contains("skipped: already injected"), "\(again.report)")
            }
        }

        @Test("what inject adds: the native sidecar after its init container, first; the token volume; the labels; annotations honoured")
        func injectedPodTemplate() async throws {
            let anchors = try await Self.anchors()
            let injected = try await Self.swiftlet([
                "inject", "--identity-trust-anchors-file", anchors, "--set", "proxy.logLevel=debug", "--registry", "registry.example/mesh",
                Self.workloads.appendingPathComponent("db.yaml").path,
            ])
            let document = try #require(try DocumentStream(parsing: injected.output).documents.first)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(DocumentStream.json(document).utf8)) as? [String: Any])
            let template = try #require(field(object, "spec", "template") as? [String: Any])
            let initContainers = try #require(field(template, "spec", "initContainers") as? [[String: Any]])
            #expect(initContainers.map { $0["name"] as? String } == ["swiftlet-init", "swiftlet-proxy"])
            let initContainer = initContainers[0]
            let proxy = initContainers[1]
            #expect(proxy["restartPolicy"] as? String == "Always")
            #expect(field(proxy, "startupProbe", "httpGet", "path") as? String == "/ready")
            #expect(field(proxy, "livenessProbe", "httpGet", "path") as? String == "/live")
            #expect(field(proxy, "securityContext", "runAsUser") as? Int == 2102)
            #expect(field(proxy, "securityContext", "readOnlyRootFilesystem") as? Bool == true)
            #expect(field(proxy, "securityContext", "capabilities", "drop") as? [String] == ["ALL"])
            #expect(proxy["image"] as? String == "registry.example/mesh/swiftlet-proxy:\(SwiftletVersion.current)")
            let environment = Dictionary(
                ((proxy["env"] as? [[String: Any]]) ?? []).map { ($0["name"] as? String ?? "", $0["value"] as? String ?? "") }
            ) { a, _ in a }
            #expect(environment["SWIFTLET_PROXY_LOG"] == "debug")
            #expect(environment["SWIFTLET_PROXY_OPAQUE_PORTS"] == "5432")
            #expect(environment["SWIFTLET_PROXY_IDENTITY_TRUST_ANCHORS"] == (try String(contentsOfFile: anchors, encoding: .utf8)))
            #expect(environment["SWIFTLET_PROXY_WORKLOAD"] == "db")
            // Tap: served to the tap service's identity (and loopback), on the port the tap service finds by name.
            #expect(environment["SWIFTLET_PROXY_TAP_SVC_NAME"] == "tap.swiftlet.serviceaccount.identity.swiftlet.cluster.local")
            #expect(environment["SWIFTLET_PROXY_TAP_LISTEN_ADDR"] == "0.0.0.0:4190" && environment["SWIFTLET_PROXY_TAP_DISABLED"] == nil)
            let ports = (proxy["ports"] as? [[String: Any]] ?? []).map {
                "\($0["name"] as? String ?? "")=\($0["containerPort"] as? Int ?? 0)"
            }
            #expect(ports == ["swiftlet-proxy=4143", "swiftlet-admin=4191", "swiftlet-tap=4190"])
            #expect(field(initContainer, "securityContext", "capabilities", "add") as? [String] == ["NET_ADMIN", "NET_RAW"])
            let arguments = initContainer["args"] as? [String] ?? []
            #expect(arguments.first == "init")
            #expect(arguments.joined(separator: " ").contains("--skip-inbound-ports 9187,9000-9010"), "\(arguments)")
            let volumes = field(template, "spec", "volumes") as? [[String: Any]] ?? []
            let token = volumes.first { $0["name"] as? String == "swiftlet-identity-token" }
            #expect(field(token, "projected", "sources", "0", "serviceAccountToken", "audience") as? String == "identity.swiftlet.io")
            let labels = field(template, "metadata", "labels") as? [String: String] ?? [:]
            #expect(labels["swiftlet.io/control-plane-ns"] == "swiftlet")
            #expect(labels["swiftlet.io/workload-ns"] == "shop")
            #expect(labels["swiftlet.io/proxy-statefulset"] == "db")
            #expect(field(template, "metadata", "annotations", "swiftlet.io/proxy-version") as? String == SwiftletVersion.current)
            // The app's own containers and the volume claim templates are as they were.
            #expect((field(template, "spec", "containers") as? [[String: Any]])?.map { $0["name"] as? String } == ["postgres"])
            #expect(field(object, "spec", "volumeClaimTemplates", "0", "metadata", "name") as? String == "data")
        }

        @Test("inject edits a workload's text: its comments, flow style and indentation stay, and uninject gives it back byte for byte")
        func commentsAndLayoutStay() async throws {
            let anchors = try await Self.anchors()
            let input = try String(contentsOfFile: Self.workloads.appendingPathComponent("commented.yaml").path, encoding: .utf8)
            let injected = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", anchors, "-"], stdin: input)
            #expect(
                injected.report.contains("deployment \"web\" injected") && injected.report.contains("pod \"solo\" injected"),
                "\(injected.report)")
            for kept in [
                "# The web tier.", "  name: web   # the name", "  selector: {matchLabels: {app: web}}", "      # app containers",
                "        image: web:1   # pinned",
                "        ports: [{containerPort: 8080, name: http}]", "        - name: data", "  - {name: app, image: \"app:2\"}",
            ] {
                #expect(injected.output.contains(kept + "\n"), "\(kept)\n\(injected.output)")
            }
            // Added in the style of where it goes: in a flow mapping as flow, in a block as lines at its indentation.
            #expect(
                injected.output.contains("      labels: {app: web, \"swiftlet.io/control-plane-ns\": \"swiftlet\""), "\(injected.output)")
            #expect(
                injected.output.contains("        - name: swiftlet-identity-token\n"), "the volume added at the volumes' own indentation")
            #expect(injected.output.contains("metadata: {name: solo, \"labels\": {\"swiftlet.io/control-plane-ns\": \"swiftlet\"}"))
            try await KubernetesValidate.check(injected.output)
            let uninjected = try await Self.swiftlet(["uninject", "-"], stdin: injected.output)
            #expect(uninjected.output == "---\n" + input, "\(uninjected.output)")
        }

        @Test("documents that are not workloads pass through byte for byte, comments included")
        func otherDocumentsUntouched() async throws {
            let anchors = try await Self.anchors()
            let input = try String(contentsOfFile: Self.workloads.appendingPathComponent("web.yaml").path, encoding: .utf8)
            let service = String(input[input.range(of: "apiVersion: v1\nkind: Service")!.lowerBound...])
            let injected = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", anchors, "-"], stdin: input)
            #expect(injected.output.hasSuffix(service))
            // Uninject of a stream without proxies changes nothing at all, comments included.
            let untouched = try await Self.swiftlet(["uninject"], stdin: input)
            #expect(untouched.output == "---\n" + input)
        }

        @Test("bad input: unparsable YAML and bad port annotations are reported with where they are")
        func badInput() async throws {
            let anchors = try await Self.anchors()
            let broken = try await Self.swiftlet(
                ["inject", "--identity-trust-anchors-file", anchors, "-"], stdin: "kind: Deployment\nspec: [unclosed\n")
            #expect(broken.status != 0)
            #expect(broken.report.contains("<stdin>"), "\(broken.report)")
            let badPorts = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p
                  annotations:
                    config.swiftlet.io/skip-inbound-ports: "http"
                spec:
                  containers:
                  - {name: app, image: busybox}
                """
            let skipped = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", anchors, "-"], stdin: badPorts)
            #expect(skipped.status == 0)
            #expect(skipped.report.contains("pod \"p\" skipped: config.swiftlet.io/skip-inbound-ports"), "\(skipped.report)")
            let noAnchors = try await Self.swiftlet(["inject", "--identity-trust-anchors-file", "/nonexistent", "-"], stdin: badPorts)
            #expect(noAnchors.status != 0 && noAnchors.report.contains("/nonexistent"), "\(noAnchors.report)")
        }
    }
}
