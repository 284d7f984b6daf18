import Controller
import Foundation
import ProxyCore
import Testing

/// The README says what is true: its manifests parse as the controller reads them and cover every kind and
/// annotation, its environment table is the proxy's own, and its links resolve inside the repository.
@Suite struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let text = (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""

    /// The text of a `## title` section.
    static func section(_ title: String) -> String {
        guard let start = Self.text.range(of: "\n## \(title)\n") else { return "" }
        let rest = Self.text[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)])
    }

    @Test func theManifestExamplesParseAndCoverEveryKind() throws {
        let blocks = Self.section("Manifests: every kind and annotation").components(separatedBy: "```yaml\n").dropFirst().map {
            $0.components(separatedBy: "```")[0]
        }
        #expect(blocks.count == 6)
        var kinds: Set<String> = []
        for block in blocks {
            let objects = try ManifestParser.parse(block, file: "README.md")
            #expect(objects.count == 1, "\(block)")
            for object in objects {
                switch object {
                case .service(let service):
                    kinds.insert("Service")
                    #expect(service.retry?.limit == 3 && service.timeouts.idle != nil && service.accrual != nil, "annotations read")
                case .workload: kinds.insert("Workload")
                case .route(let route): kinds.insert(route.kind == .grpc ? "GRPCRoute" : "HTTPRoute")
                case .faultInjection: kinds.insert("FaultInjection")
                case .backendTrafficPolicy: kinds.insert("XBackendTrafficPolicy")
                }
            }
        }
        #expect(kinds == ["Service", "Workload", "HTTPRoute", "GRPCRoute", "FaultInjection", "XBackendTrafficPolicy"])
    }

    @Test func everyAnnotationTheCodeReadsIsDocumented() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        var keys: Set<String> = []
        let pattern = try NSRegularExpression(pattern: #""((?:config|retry|timeout|balancer)\.swiftlet\.io/[a-z-]+|swiftlet\.io/inject)""#)
        for case let path as String in FileManager.default.enumerator(atPath: sources.path)! where path.hasSuffix(".swift") {
            let code = try String(contentsOf: sources.appendingPathComponent(path), encoding: .utf8)
            for match in pattern.matches(in: code, range: NSRange(code.startIndex..., in: code)) {
                keys.insert(String(code[Range(match.range(at: 1), in: code)!]))
            }
        }
        #expect(keys.count >= 15, "\(keys)")
        for key in keys.sorted() { #expect(Self.text.contains(key), "\(key) is read and not in the README") }
    }

    @Test func theEnvironmentTableIsTheProxysOwn() {
        let table = Self.text.components(separatedBy: "<!-- env-reference:start -->\n").dropFirst().first?
            .components(separatedBy: "<!-- env-reference:end -->").first
        #expect(table == ProxyEnvironment.markdownReference(), "run scripts/update-readme-env")
    }

    @Test func relativeLinksResolveInTheRepository() throws {
        let links = try NSRegularExpression(pattern: #"\]\(([^)#]+)\)"#)
        for match in links.matches(in: Self.text, range: NSRange(Self.text.startIndex..., in: Self.text)) {
            let target = String(Self.text[Range(match.range(at: 1), in: Self.text)!])
            guard !target.contains("://") else { continue }
            let resolved = Self.root.appendingPathComponent(target).standardizedFileURL
            #expect(resolved.path.hasPrefix(Self.root.path) && FileManager.default.fileExists(atPath: resolved.path), "\(target)")
        }
    }
}
