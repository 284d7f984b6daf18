import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server for the demo's services: one child task per connection in a discarding task group,
/// each request answered by an async handler.
struct DemoHTTPServer {
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var headers: HTTPHeaders
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var body: String
        var contentType = "text/plain; charset=utf-8"
    }

    typealias Handler = @Sendable (Request) async -> Response

    let host: String
    let port: Int

    /// Serves until the task is cancelled.
    func serve(_ handler: @escaping Handler) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask {
                        // One bad client never stops the server.
                        try? await Self.handle(connection, handler)
                    }
                }
            }
        }
    }

    private static func handle(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, _ handler: Handler
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let received): head = received
                case .body: break
                case .end:
                    guard let request = head else { continue }
                    let response = await handler(Request(method: request.method, path: request.uri, headers: request.headers))
                    var headers = HTTPHeaders()
                    headers.add(name: "content-type", value: response.contentType)
                    headers.add(name: "content-length", value: String(response.body.utf8.count))
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
                    try await outbound.write(.end(nil))
                    if !request.isKeepAlive { return }
                }
            }
        }
    }
}
