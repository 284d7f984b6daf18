import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 server for the controller's `/metrics`, `/ready` and `/live`.
public final class AdminHTTPServer: Sendable {
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var contentType: String
        public var body: String

        public init(_ status: HTTPResponseStatus, _ body: String, contentType: String = "text/plain; charset=utf-8") {
            self.status = status
            self.body = body
            self.contentType = contentType
        }
    }

    /// One request as a route sees it.
    public struct Request: Sendable {
        public var method: HTTPMethod
        public var path: String
        /// The query's parameters, percent-decoded.
        public var query: [String: String]
        /// The client is on this host (loopback): what only an operator on the node (or through a port-forward)
        /// may ask.
        public var fromLoopback: Bool
    }

    public typealias Route = @Sendable (Request) -> Response

    let channel: Channel

    public var port: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: Channel) {
        self.channel = channel
    }

    public static func bind(host: String, port: Int, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, route: @escaping Route)
        async throws -> AdminHTTPServer
    {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminRequestHandler(route: route))
                }
            }
            .bind(host: host, port: port)
            .get()
        return AdminHTTPServer(channel: channel)
    }

    public func close() async {
        try? await self.channel.close()
    }
}

final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let route: AdminHTTPServer.Route
    private var head: HTTPRequestHead?

    init(route: @escaping AdminHTTPServer.Route) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head = self.head else { return }
            let target = HTTPTarget(head.uri)
            let loopback = context.channel.remoteAddress?.isLoopbackClient ?? false
            let response = self.route(
                AdminHTTPServer.Request(method: head.method, path: target.path, query: target.query, fromLoopback: loopback))
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: response.contentType)
            headers.add(name: "content-length", value: String(response.body.utf8.count))
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(
                Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
            let keepAlive = head.isKeepAlive
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { bound.value.close(promise: nil) }
            }
        }
    }
}

@available(*, unavailable)
extension AdminRequestHandler: Sendable {}
