import NIOHTTP1
import Synchronization

/// The demo's `voting` service (HTTP/1.1): counts votes and serves the leaderboard. One request in twenty fails
/// with a 500 (unless it is v2, which is not `failing`), and one in ten takes 20× `latency`, so the table has
/// failures and a latency tail to show.
final class VotingService: Sendable {
    let latency: Duration
    let failing: Bool
    private let votes = Mutex<[String: Int]>([:])
    private let requests = Atomic<Int>(0)

    init(latency: Duration, failing: Bool = true) {
        self.latency = latency
        self.failing = failing
    }

    func handle(_ request: DemoHTTPServer.Request) async -> DemoHTTPServer.Response {
        try? await Task.sleep(for: Int.random(in: 0..<10) == 0 ? self.latency * 20 : self.latency)
        let count = self.requests.add(1, ordering: .relaxed).newValue
        if self.failing, count % 20 == 0 { return .init(status: .internalServerError, body: "the ballot box jammed\n") }
        if request.method == .POST, request.path.hasPrefix("/vote/") {
            let shortcode = String(request.path.dropFirst("/vote/".count))
            self.votes.withLock { $0[shortcode, default: 0] += 1 }
            return .init(status: .ok, body: "voted \(shortcode)\n")
        }
        if request.path == "/leaderboard" {
            let top = self.votes.withLock { votes in votes.sorted { $0.value > $1.value }.prefix(5) }
            return .init(status: .ok, body: top.map { "\($0.key) \($0.value)" }.joined(separator: "\n") + "\n")
        }
        return .init(status: .notFound, body: "not found\n")
    }
}
