import Controller
import Foundation
import Logging
import Testing

@Suite struct FileSourceTests {
    static func service(_ name: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: ns}
        spec:
          selector: {app: \(name)}
          ports: [{name: http, port: 80, targetPort: http}]

        """
    }

    static func workload(_ name: String, app: String, port: Int) -> String {
        """
        ---
        apiVersion: swiftlet.io/v1alpha1
        kind: Workload
        metadata: {name: \(name), namespace: ns, labels: {app: \(app)}}
        spec: {address: 127.0.0.1, ports: [{name: http, port: \(port)}]}

        """
    }

    static func ports(_ state: DestinationResolution?) -> [Int] {
        guard case .endpoints(let endpoints, _) = state else { return [] }
        return endpoints.keys.map(\.port).sorted()
    }

    /// Runs a FileSource over a fresh directory while `body` runs.
    static func withSource(_ files: [String: String], _ body: (String, ClusterIndex, ControllerMetrics) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "swiftlet-files-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: false, encoding: .utf8) }
        let index = ClusterIndex()
        let metrics = ControllerMetrics()
        let source = FileSource(directory: directory, index: index, metrics: metrics, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            try await source.loaded()
            try await body(directory, index, metrics)
            group.cancelAll()
        }
    }

    @Test func anEditANewFileAndARemovedFileReachWatchers() async throws {
        try await Self.withSource(["web.yaml": Self.service("web") + Self.workload("web-0", app: "web", port: 7001)]) {
            directory, index, _ in
            var updates = index.watch(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "web"), port: 80)).makeAsyncIterator()
            #expect(Self.ports(await updates.next()) == [7001])

            try Self.workload("web-1", app: "web", port: 7002).write(toFile: directory + "/more.yaml", atomically: false, encoding: .utf8)
            #expect(Self.ports(await updates.next()) == [7001, 7002])

            try (Self.service("web") + Self.workload("web-0", app: "web", port: 7003))
                .write(toFile: directory + "/web.yaml", atomically: true, encoding: .utf8)
            #expect(Self.ports(await updates.next()) == [7002, 7003])

            try FileManager.default.removeItem(atPath: directory + "/more.yaml")
            #expect(Self.ports(await updates.next()) == [7003])
        }
    }

    @Test func aMalformedEditKeepsTheLastGoodStateAndIsReportedWithItsLine() async throws {
        try await Self.withSource(["web.yaml": Self.service("web") + Self.workload("web-0", app: "web", port: 7001)]) {
            directory, index, metrics in
            var updates = index.watch(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "web"), port: 80)).makeAsyncIterator()
            #expect(Self.ports(await updates.next()) == [7001])

            // Line 11 gets a port out of range; the rest of the edit (a new port) must not apply either.
            let broken =
                Self.service("web") + Self.workload("web-0", app: "web", port: 7005).replacingOccurrences(of: "7005", with: "70000")
            try broken.write(toFile: directory + "/web.yaml", atomically: false, encoding: .utf8)
            // A second, good file written afterwards shows the broken one was read (events are in order).
            try (Self.service("db") + Self.workload("db-0", app: "db", port: 5432)).write(
                toFile: directory + "/db.yaml", atomically: false, encoding: .utf8)
            var db = index.watch(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "db"), port: 80)).makeAsyncIterator()
            var state = await db.next()
            while Self.ports(state) != [5432] { state = await db.next() }

            let errors = metrics.currentErrors
            #expect(errors.count == 1)
            #expect(errors.first?.file == directory + "/web.yaml")
            #expect(errors.first?.line == 11)
            #expect(Self.ports(index.resolve(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "web"), port: 80))) == [7001])
        }
    }

    /// An object defined in two files is taken from the later file by name; when that file lets go of it, the
    /// earlier definition is in force again. A rename onto a file is an edit, and a directory's own files only count.
    @Test func anObjectDefinedTwiceComesFromTheLaterFileUntilItLetsGo() async throws {
        try await Self.withSource([
            "a.yaml": Self.service("web") + Self.workload("web-0", app: "web", port: 7001),
            "b.yaml": String(Self.workload("web-0", app: "web", port: 7002).dropFirst(4)),
        ]) { directory, index, _ in
            var updates = index.watch(DestinationAuthority(service: ObjectKey(namespace: "ns", name: "web"), port: 80)).makeAsyncIterator()
            #expect(Self.ports(await updates.next()) == [7002])
            try FileManager.default.removeItem(atPath: directory + "/b.yaml")
            #expect(Self.ports(await updates.next()) == [7001])
            try String(Self.workload("web-0", app: "web", port: 7003).dropFirst(4)).write(
                toFile: directory + "/.c.tmp", atomically: false, encoding: .utf8)
            try FileManager.default.moveItem(atPath: directory + "/.c.tmp", toPath: directory + "/c.yaml")
            #expect(Self.ports(await updates.next()) == [7003])
        }
    }
}
