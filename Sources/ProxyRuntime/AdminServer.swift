import NIOCore
import NIOHTTP1
import NIOPosix
import ProxyCore

/// The admin listener (`:4191`): a small HTTP/1.1 server for probes, metrics and shutdown.
enum AdminServer {
    static func bind(_ address: HostPort, group: EventLoopGroup, shared: AdminHandler.Shared) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(shared: shared))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}
