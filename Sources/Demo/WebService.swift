import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOHTTP1
import SwiftletAPI

/// The demo's `web` front end: `GET /` lists emoji (gRPC to `emoji`) with the leaderboard (HTTP to `voting`);
/// `POST /api/vote?choice=:x:` checks the emoji (gRPC) and records the vote (HTTP). Both calls leave through the
/// web instance's own proxy, naming their destination by its Service name, as a meshed application does.
struct WebService {
    let emojiAuthority: String
    let votingAuthority: String
    /// The instance's outbound proxy in explicit mode; `nil` when iptables captures what the application dials.
    let proxy: (host: String, port: Int)?

    func serve(host: String, port: Int) async throws {
        let target: any ResolvableTarget
        if let proxy = self.proxy {
            target = ResolvableTargets.IPv4.ipv4(address: proxy.host, port: proxy.port)
        } else {
            let (name, port) = DemoHTTPClient.split(self.emojiAuthority)
            target = ResolvableTargets.DNS.dns(host: name, port: port)
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: target, transportSecurity: .plaintext, config: .defaults { $0.http2.authority = self.emojiAuthority }
        )
        let client = GRPCClient(transport: transport)
        let emoji = Swiftlet_Demo_V1_EmojiService.Client(wrapping: client)
        let voting = DemoHTTPClient(proxy: self.proxy)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await client.runConnections() }
            group.addTask {
                try await DemoHTTPServer(host: host, port: port).serve { request in
                    await self.handle(request, emoji: emoji, voting: voting)
                }
            }
        }
    }

    private func handle(
        _ request: DemoHTTPServer.Request, emoji: Swiftlet_Demo_V1_EmojiService.Client<HTTP2ClientTransport.Posix>,
        voting: DemoHTTPClient
    ) async -> DemoHTTPServer.Response {
        do {
            if request.method == .GET, request.path == "/" {
                let list = try await emoji.listAll(Swiftlet_Demo_V1_ListAllRequest())
                let leaderboard = try await voting.request(.GET, authority: self.votingAuthority, path: "/leaderboard")
                guard leaderboard.status == 200 else { return .init(status: .badGateway, body: "voting answered \(leaderboard.status)\n") }
                let emojis = list.list.map(\.unicode).joined(separator: " ")
                return .init(status: .ok, body: "Vote for your favourite emoji!\n\(emojis)\n\nLeaderboard:\n\(leaderboard.body)")
            }
            if request.method == .POST, request.path.hasPrefix("/api/vote?choice=") {
                let choice = String(request.path.dropFirst("/api/vote?choice=".count))
                do {
                    _ = try await emoji.findByShortcode(.with { $0.shortcode = choice })
                } catch let error as RPCError where error.code == .notFound {
                    return .init(status: .notFound, body: "unknown emoji \(choice)\n")
                }
                let vote = try await voting.request(.POST, authority: self.votingAuthority, path: "/vote/\(choice)")
                return .init(status: vote.status == 200 ? .ok : .badGateway, body: vote.body)
            }
            return .init(status: .notFound, body: "not found\n")
        } catch {
            return .init(status: .badGateway, body: "\(error)\n")
        }
    }
}
