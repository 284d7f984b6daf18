import Foundation
import Testing

/// `swiftlet demo` as a newcomer runs it.
@Suite(.serialized) struct DemoTests {
    /// Processes the demo started (the demo's programs and proxies all carry these words on their command line).
    static func leftovers() async throws -> [String] {
        let result = try await run("ps", ["-eo", "pid,args"])
        return result.output.split(separator: "\n").map(String.init).filter {
            ($0.contains("demo-app") || $0.contains("swiftlet-demo-") || $0.hasSuffix("swiftlet proxy")) && !$0.contains("ps -eo")
        }
    }

    @Test func everyEdgeOfTheDemoServesSuccessfulRequests() async throws {
        let before = Set(try await Self.leftovers())
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
        let left = Set(try await Self.leftovers()).subtracting(before)
        #expect(left.isEmpty, "left running: \(left)")
    }

    @Test func ctrlCStopsTheDemoAndEveryChildProcess() async throws {
        let before = Set(try await Self.leftovers())
        let demo = try ChildProcess(ControllerProcess.binary, ["demo"], name: "swiftlet demo")
        _ = try await demo.waitForLine(containing: "LATENCY_P99", timeout: .seconds(120))
        #expect(try await Set(Self.leftovers()).subtracting(before).count >= 10)
        demo.signal(SIGINT)
        _ = try await demo.waitForExit(timeout: .seconds(30))
        let left = Set(try await Self.leftovers()).subtracting(before)
        #expect(left.isEmpty, "left running: \(left)")
    }
}
