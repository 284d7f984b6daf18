import Foundation
import Testing

/// `swiftlet demo` as a newcomer runs it.
@Suite(.serialized) struct DemoTests {
    /// Processes the demo with process id `demo` started, found by the marker it puts in their environment.
    static func children(of demo: Int32) -> [String] {
        let marker = "SWIFTLET_DEMO_ID=\(demo)"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
            let variables = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard variables.contains(marker) else { return nil }
            let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            }
            return "\(pid) \(command ?? "?")"
        }
    }

    @Test func everyEdgeOfTheDemoServesSuccessfulRequests() async throws {
        let demo = try ChildProcess(ControllerProcess.binary, ["demo", "--duration", "20"], name: "swiftlet demo")
        let status = try await demo.waitForExit(timeout: .seconds(120))
        #expect(status == 0, "demo failed:\n\(demo.text)")
        let edges = demo.text.split(separator: "\n").filter { $0.hasPrefix("EDGE ") }
        for edge in ["vote-bot-0 -> web", "web-0 -> emoji", "web-0 -> voting"] {
            let line = edges.first { $0.contains(edge + " ") }
            let ok = line.flatMap { $0.split(separator: " ").first { $0.hasPrefix("ok=") } }.flatMap { Int($0.dropFirst(3)) } ?? 0
            #expect(ok > 50, "edge \(edge) served \(ok) successful requests:\n\(demo.text.suffix(2000))")
        }
        // The live table showed both voting replicas serving (the balancer spreads the load).
        #expect(demo.text.contains("voting-1"))
        let left = Self.children(of: demo.pid)
        #expect(left.isEmpty, "left running: \(left)")
    }

    @Test func ctrlCStopsTheDemoAndEveryChildProcess() async throws {
        let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
        _ = try await demo.waitForLine(containing: "LATENCY_P99", timeout: .seconds(120))
        // A controller, five proxies, four services and the load generator.
        #expect(Self.children(of: demo.pid).count == 11, "\(Self.children(of: demo.pid))")
        demo.signal(SIGINT)
        _ = try await demo.waitForExit(timeout: .seconds(30))
        let left = Self.children(of: demo.pid)
        #expect(left.isEmpty, "left running: \(left)")
    }
}
