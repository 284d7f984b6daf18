import Foundation

/// One call recorded against a real kube-apiserver (Tests/Fixtures/kube-api-recordings, see its INDEX.md): the
/// request line, the status, the response's headers and body. A watch's body is its lines as they came.
struct APIRecording {
    var method: String
    var path: String
    var query: String
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kube-api-recordings")

    /// Every recording's file name, in order.
    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".http") }.sorted()
    }

    /// The recording whose file name starts with `prefix` (`"24-"`).
    static func named(_ prefix: String) throws -> APIRecording {
        guard let name = names.first(where: { $0.hasPrefix(prefix) }) else { throw RecordingError("no recording \(prefix)") }
        return try APIRecording(contentsOf: directory.appendingPathComponent(name))
    }

    init(contentsOf url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let requestAt = lines.firstIndex(of: "### request"), let responseAt = lines.firstIndex(of: "### response") else {
            throw RecordingError("\(url.lastPathComponent) is not a recording")
        }
        let requestLine = lines[requestAt + 1].split(separator: " ")
        self.method = String(requestLine[0])
        let target = String(requestLine[1]).replacingOccurrences(of: "https://kube-apiserver", with: "")
        let parts = target.split(separator: "?", maxSplits: 1)
        self.path = String(parts[0])
        self.query = parts.count > 1 ? String(parts[1]) : ""
        let statusLine = lines[responseAt + 1].split(separator: " ")
        self.status = Int(statusLine[1]) ?? 0
        var index = responseAt + 2
        var headers: [(String, String)] = []
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            index += 1
        }
        self.headers = headers
        let rest = lines[(index + 1)...]
        let end = rest.firstIndex { $0.hasPrefix("### ") } ?? rest.endIndex
        self.body = rest[..<end].joined(separator: "\n")
    }

    func header(_ name: String) -> String? { self.headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    var bodyData: Data { Data(self.body.utf8) }

    /// A watch's body: one JSON event per line.
    var lines: [Data] { self.body.split(separator: "\n").map { Data($0.utf8) } }
}

struct RecordingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
