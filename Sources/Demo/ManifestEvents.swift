import Foundation

/// What became of the user's manifest edits, read from the controller's `/manifests` at each refresh: a file read
/// again is "accepted", or "rejected" with its line and reason (its last good version stays in force). The latest
/// event is shown in the demo's header for a while.
actor ManifestEvents {
    let client: DemoHTTPClient
    /// How long an event stays on screen.
    static let shownFor = Duration.seconds(15)
    private var loads: [String: Int]?
    private var latest: (text: String, at: ContinuousClock.Instant)?
    /// Files the demo itself wrote and the controller has not read since: their next reading is not the user's.
    private var ownWrites: Set<String> = []

    /// The demo wrote `file` (turning retries on): that reading is the demo's, said in its own words.
    func demoWrote(_ file: String) {
        self.ownWrites.insert(file)
    }

    init(controllerAdmin port: Int) {
        self.client = DemoHTTPClient(host: "127.0.0.1", port: port)
    }

    /// Polls the controller; returns the event to show now, if any.
    func poll(now: ContinuousClock.Instant, clock: String) async -> String? {
        if let response = try? await self.client.request(.GET, authority: "127.0.0.1", path: "/manifests"), response.status == 200 {
            let files = Self.parse(response.body)
            if let previous = self.loads {
                // Every file read since the last poll, in one line: two edits between refreshes are both said.
                var texts: [String] = []
                for file in files where file.loads > previous[file.name, default: 0] {
                    if self.ownWrites.remove(file.name) != nil { continue }
                    var text = "\(file.name) accepted"
                    if let error = file.error {
                        let consequence = error.kept ? "its last good version stays" : "none of it is in force"
                        text = "\(file.name):\(error.line) rejected: \(error.reason) (\(consequence))"
                    }
                    texts.append(text)
                }
                if !texts.isEmpty { self.latest = ("\(clock) " + texts.joined(separator: "; "), now) }
            }
            self.loads = Dictionary(files.map { ($0.name, $0.loads) }, uniquingKeysWith: max)
        }
        guard let latest = self.latest, now - latest.at < Self.shownFor else { return nil }
        return latest.text
    }

    struct File {
        var name: String
        var loads: Int
        var error: (line: Int, reason: String, kept: Bool)?
    }

    /// The controller's `/manifests` lines: `file TAB loads TAB ok`, or `… TAB error TAB line TAB reason` (`error-kept`:
    /// an earlier version stays in force).
    static func parse(_ text: String) -> [File] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, let loads = Int(fields[1]) else { return nil }
            let error =
                fields[2].hasPrefix("error") && fields.count == 5 ? (Int(fields[3]) ?? 0, fields[4], fields[2] == "error-kept") : nil
            return File(name: fields[0], loads: loads, error: error)
        }
    }
}
