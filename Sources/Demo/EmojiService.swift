import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftletAPI

/// The demo's `emoji` service (gRPC): lists emoji and finds one by shortcode. `:poop:` is "not found", so the
/// gRPC error column of the demo's table has something to show.
struct EmojiService: Swiftlet_Demo_V1_EmojiService.SimpleServiceProtocol {
    func listAll(request: Swiftlet_Demo_V1_ListAllRequest, context: ServerContext) async throws -> Swiftlet_Demo_V1_ListAllResponse {
        .with { response in
            response.list = EmojiCatalog.all.map { entry in
                .with {
                    $0.shortcode = entry.shortcode; $0.unicode = entry.unicode
                }
            }
        }
    }

    func findByShortcode(request: Swiftlet_Demo_V1_FindByShortcodeRequest, context: ServerContext) async throws
        -> Swiftlet_Demo_V1_FindByShortcodeResponse
    {
        guard request.shortcode != ":poop:", let entry = EmojiCatalog.all.first(where: { $0.shortcode == request.shortcode }) else {
            throw RPCError(code: .notFound, message: "no emoji \(request.shortcode)")
        }
        return .with { response in
            response.emoji = .with {
                $0.shortcode = entry.shortcode; $0.unicode = entry.unicode
            }
        }
    }

    static func serve(host: String, port: Int) async throws {
        let server = GRPCServer(
            transport: HTTP2ServerTransport.Posix(address: .ipv4(host: host, port: port), transportSecurity: .plaintext),
            services: [EmojiService()]
        )
        try await withTaskCancellationHandler {
            try await server.serve()
        } onCancel: {
            server.beginGracefulShutdown()
        }
    }
}
