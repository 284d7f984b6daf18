/// The demo application's programs, run as hidden `swiftlet demo-app <role>` subcommands.
public enum DemoApp {
    public enum Role: String, Sendable, CaseIterable {
        case web, emoji, voting
        case votingV2 = "voting-v2"
        case voteBot = "vote-bot"
    }

    /// Runs `role` until the task is cancelled. `proxy` is the instance's own outbound proxy (explicit mode);
    /// `nil` in a pod, where the application dials its destinations itself and iptables hands the connection to the
    /// proxy.
    public static func run(
        _ role: Role, listenHost: String, listenPort: Int, proxy: (host: String, port: Int)?, latencyMilliseconds: Int,
        requestsPerSecond: Int
    ) async throws {
        let namespace = DemoTopology.namespace
        switch role {
        case .web:
            try await WebService(
                emojiAuthority: "emoji.\(namespace).svc.cluster.local:8080", votingAuthority: "voting.\(namespace):8080", proxy: proxy
            ).serve(host: listenHost, port: listenPort)
        case .emoji:
            try await EmojiService.serve(host: listenHost, port: listenPort)
        case .voting, .votingV2:
            // v2 is the canary that fixed the jammed ballot box: it never fails.
            let service = VotingService(latency: .milliseconds(latencyMilliseconds), failing: role == .voting)
            try await DemoHTTPServer(host: listenHost, port: listenPort).serve { await service.handle($0) }
        case .voteBot:
            try await VoteBot(web: DemoHTTPClient(proxy: proxy), authority: "web.\(namespace):80", requestsPerSecond: requestsPerSecond)
                .run()
        }
    }
}
