import Foundation
import Testing

@testable import Controller

/// What the controller says of a directory of manifests: a rejected file with or without a good version in force,
/// an object defined twice with both files named, kinds it does not read (once), and routes' missing backends
/// whether or not their parent exists.
@Suite struct ManifestDirectoryTests {
    static func directory(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + "swiftlet-manifests-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    @Test func aRejectedFileSaysWhetherAnEarlierVersionStaysInForce() throws {
        let path = try Self.directory(["web.yaml": FileSourceTests.service("web"), "new.yaml": "kind: [broken\n"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        var files = ManifestDirectory(path: path)
        let first = files.reload(only: nil)
        let new = try #require(first.results.first { $0.name == "new.yaml" })
        #expect(new.error != nil && !new.keptPrevious, "never accepted: nothing of it is in force")
        try "kind: [broken\n".write(toFile: path + "/web.yaml", atomically: true, encoding: .utf8)
        let second = files.reload(only: ["web.yaml"])
        let web = try #require(second.results.first)
        #expect(web.error != nil && web.keptPrevious, "its last good version stays")
    }

    @Test func anObjectDefinedTwiceNamesBothFilesAndTheOneInForce() throws {
        let path = try Self.directory([
            "a.yaml": FileSourceTests.service("web"), "b.yaml": FileSourceTests.service("web"),
            "c.yaml": FileSourceTests.service("db") + "---\n" + FileSourceTests.service("db"),
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        var files = ManifestDirectory(path: path)
        let outcome = files.reload(only: nil)
        #expect(outcome.duplicates.contains("ns/web in a.yaml and b.yaml; b.yaml's is in force"), "\(outcome.duplicates)")
        #expect(outcome.duplicates.contains("ns/db twice in c.yaml"), "\(outcome.duplicates)")
    }

    @Test func documentsOfKindsTheMeshDoesNotReadAreReported() throws {
        let configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ns}\n"
        let path = try Self.directory(["mixed.yaml": FileSourceTests.service("web") + "---\n" + configMap])
        defer { try? FileManager.default.removeItem(atPath: path) }
        var files = ManifestDirectory(path: path)
        let outcome = files.reload(only: nil)
        #expect(outcome.ignored["mixed.yaml"]?.count == 1, "\(outcome.ignored)")
        #expect(outcome.ignored["mixed.yaml"]?.first?.hasPrefix("ConfigMap v1 at line ") == true, "\(outcome.ignored)")
    }

    @Test func aMissingBackendIsReportedEvenWhenTheParentIsMissingToo() throws {
        let route = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: split, namespace: ns}
            spec:
              parentRefs: [{group: "", kind: Service, name: gone}]
              rules:
              - backendRefs: [{name: also-gone, port: 80}]

            """
        let snapshot = ClusterSnapshot(try ManifestParser.parse(route, file: "route.yaml"))
        let problems = PolicyResolver.problems(in: snapshot).map(\.message)
        #expect(problems.contains { $0.contains("parent Service ns/gone does not exist") }, "\(problems)")
        #expect(problems.contains { $0.contains("backend Service ns/also-gone does not exist") }, "\(problems)")
    }
}
