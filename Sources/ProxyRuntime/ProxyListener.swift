import NIOCore
import NIOPosix
import ProxyCore

/// Binds a proxy listener whose accepted connections are set up by `ListenerPipeline`, synchronously in the
/// child initializer so no byte is read before the pipeline is complete.
enum ProxyListener {
    static func bind(_ address: HostPort, group: EventLoopGroup, pipeline: ListenerPipeline) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // Options set here synchronously: `childChannelOption` applies each through a chain of futures,
                // a measurable cost per accepted connection. `TCP_NODELAY` is not among them: the bootstrap sets it
                // on the listening socket and accepted sockets inherit it (setting it again cost a setsockopt and a
                // getsockname per connection).
                channel.eventLoop.makeCompletedFuture {
                    if let options = channel.syncOptions {
                        try options.setOption(.allowRemoteHalfClosure, value: true)
                    }
                    try pipeline.initialize(channel)
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}
