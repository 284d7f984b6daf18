import Controller
import Testing

@Suite struct ManifestParserTests {
    static let service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: voting
          namespace: emojivoto
        spec:
          selector:
            app: voting
          ports:
          - name: grpc
            port: 8080
            targetPort: grpc
            appProtocol: kubernetes.io/h2c
          - port: 9090
        """

    @Test func readsAServiceWithNamedAndNumberedPorts() throws {
        let objects = try ManifestParser.parse(Self.service, file: "svc.yaml")
        #expect(
            objects == [
                .service(
                    ServiceSpec(
                        key: ObjectKey(namespace: "emojivoto", name: "voting"), selector: ["app": "voting"],
                        ports: [
                            .init(name: "grpc", port: 8080, targetPort: .name("grpc"), appProtocol: "kubernetes.io/h2c"),
                            .init(port: 9090, targetPort: .number(9090)),
                        ]
                    )
                )
            ]
        )
    }

    @Test func readsSeveralDocumentsAndSkipsOtherKinds() throws {
        let text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            ---
            apiVersion: swiftlet.io/v1alpha1
            kind: Workload
            metadata:
              name: web-0
              labels: {app: web}
            spec:
              address: 10.0.0.7
              serviceAccount: web
              ports: [{name: http, port: 80}]
            ---
            """
        let objects = try ManifestParser.parse(text, file: "w.yaml")
        #expect(
            objects == [
                .workload(
                    WorkloadSpec(
                        key: ObjectKey(namespace: "default", name: "web-0"), labels: ["app": "web"], serviceAccount: "web",
                        address: "10.0.0.7", ports: [.init(name: "http", port: 80)],
                        owner: .init(kind: "Deployment", name: "web")  // by its app label, as a cluster's would be
                    )
                )
            ]
        )
        // An owner given is the owner.
        let owned = try ManifestParser.parse(
            text.replacingOccurrences(
                of: "  serviceAccount: web\n", with: "  serviceAccount: web\n  owner: {kind: StatefulSet, name: db}\n"),
            file: "w.yaml")
        guard case .workload(let workload)? = owned.first else {
            Issue.record("no workload")
            return
        }
        #expect(workload.owner == .init(kind: "StatefulSet", name: "db"))
        #expect(workload.tapPort == nil && !workload.tapDisabled, "a local proxy's tap port is declared, not guessed")
        // Where its proxy's tap server listens, and the annotation that turns tap off.
        let tapped = try ManifestParser.parse(
            text.replacingOccurrences(of: "  serviceAccount: web\n", with: "  serviceAccount: web\n  tapPort: 4190\n")
                .replacingOccurrences(
                    of: "  labels: {app: web}\n", with: "  labels: {app: web}\n  annotations: {viz.swiftlet.io/disable-tap: \"true\"}\n"),
            file: "w.yaml")
        guard case .workload(let declared)? = tapped.first else {
            Issue.record("no workload")
            return
        }
        #expect(declared.tapPort == 4190 && declared.tapDisabled)
        #expect(throws: ManifestError.self) {
            try ManifestParser.parse(
                text.replacingOccurrences(of: "  serviceAccount: web\n", with: "  serviceAccount: web\n  tapPort: 0\n"), file: "w.yaml")
        }
        #expect(throws: ManifestError.self) {
            try ManifestParser.parse(
                text.replacingOccurrences(of: "  serviceAccount: web\n", with: "  serviceAccount: web\n  owner: {kind: Pod, name: x}\n"),
                file: "w.yaml")
        }
    }

    @Test(arguments: [
        // (document, line, words the message must contain)
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 70000\n", 7, "port number"),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: Web_1\nspec:\n  ports: []\n", 4, "DNS label"),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n", 1, "missing `spec`"),
        ("apiVersion: swiftlet.io/v1alpha1\nkind: Workload\nmetadata:\n  name: w\nspec:\n  address: 10.0.0.300\n", 6, "IPv4 or IPv6"),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n    targetPort: [1]\n", 8, "targetPort"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: web\nspec: {}\n", 4, "invalid YAML"),
    ])
    func aBadDocumentIsReportedWithItsFileAndLine(document: String, line: Int, words: String) {
        #expect {
            _ = try ManifestParser.parse(document, file: "/m/bad.yaml")
        } throws: { error in
            guard let error = error as? ManifestError else { return false }
            return error.file == "/m/bad.yaml" && error.line == line && error.message.contains(words)
                && error.description.hasPrefix("/m/bad.yaml:\(line): ")
        }
    }
}
