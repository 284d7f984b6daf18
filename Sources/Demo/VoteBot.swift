import NIOCore

/// The demo's load generator: a steady stream of page views and votes to the web front end.
struct VoteBot {
    let web: DemoHTTPClient
    let authority: String
    let requestsPerSecond: Int

    func run() async throws {
        let interval = Duration.seconds(1) / max(self.requestsPerSecond, 1)
        try await withThrowingDiscardingTaskGroup { group in
            var tick = 0
            while !Task.isCancelled {
                tick += 1
                let isVote = tick % 2 == 0
                let choice = EmojiCatalog.all[Int.random(in: 0..<EmojiCatalog.all.count)].shortcode
                group.addTask {
                    // Failures are the point of the demo's table; the bot itself just goes on.
                    _ = try? await self.web.request(
                        isVote ? .POST : .GET, authority: self.authority, path: isVote ? "/api/vote?choice=\(choice)" : "/")
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
