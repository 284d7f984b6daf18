import NIOCore
import NIOHTTP2

extension ChannelPipeline.SynchronousOperations {
    /// An HTTP/1.1 server connection of the proxy: one handler parses requests from the bytes and writes responses
    /// as bytes; nothing else.
    public func addProxyHTTP1Server(_ connection: ConnectionContext, headerReadTimeout: TimeAmount) throws {
        try self.addHandler(HTTP1ServerHandler(connection: connection, headerReadTimeout: headerReadTimeout))
    }

    /// An HTTP/2 server connection of the proxy: NIO's codec in frame mode, and one handler that makes each stream an
    /// exchange. `headerReadTimeout` bounds the wait for the first stream.
    public func addProxyHTTP2Server(_ connection: ConnectionContext, headerReadTimeout: TimeAmount) throws {
        try self.addHandler(
            NIOHTTP2Handler(mode: .server, connectionConfiguration: HTTP2Tuning.connection, streamConfiguration: HTTP2Tuning.stream))
        try self.addHandler(HTTP2ServerHandler(connection: connection, headerReadTimeout: headerReadTimeout))
    }
}
