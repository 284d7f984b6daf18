import Logging
import NIOCore
import NIOEmbedded
import ProxyCore
import ProxyHTTP
import ProxyTransport
import Testing

/// The HTTP edge without sockets: requests that never reach an upstream are answered by the proxy itself.
@Suite struct HTTP1ServerHandlerTests {
    func makeChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        var config = ProxyConfig()
        config.mode = .explicit
        let connector = UpstreamConnector(connectTimeout: .seconds(1), loopGuard: LoopGuard(listeners: [], localIPs: []))
        let resources = LoopContext(eventLoop: channel.embeddedEventLoop, config: config, connector: connector)
        let connection = ConnectionContext(
            direction: .outbound, destination: nil, router: TargetResolver(config: config), resources: resources,
            tls: .notProvidedByDiscovery, isHTTP2: false, responseTimeout: nil, logger: Logger(label: "test")
        )
        try channel.pipeline.syncOperations.addProxyHTTP1Server(connection, headerReadTimeout: .seconds(10))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func readResponse(_ channel: EmbeddedChannel) throws -> String {
        var all = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&chunk) }
        return String(buffer: all)
    }

    @Test func aMalformedRequestGets400WithAReasonAndTheConnectionCloses() throws {
        let channel = try self.makeChannel()
        _ = try? channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nBad Header\r\n\r\n"))
        let response = try self.readResponse(channel)
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.lowercased().contains("swiftlet-proxy-error: malformed_request"))
        #expect(response.lowercased().contains("connection: close"))
        #expect(!channel.isActive)
    }

    @Test func aRequestWithNoAuthorityGets503AndTheConnectionStaysUsable() throws {
        let channel = try self.makeChannel()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        let first = try self.readResponse(channel)
        #expect(first.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(first.lowercased().contains("swiftlet-proxy-error: no_route"))
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(string: "GET /again HTTP/1.1\r\n\r\n"))
        #expect(try self.readResponse(channel).hasPrefix("HTTP/1.1 503"))
        _ = try? channel.finish()
    }

    @Test func anHTTP10ClientIsAnsweredAndClosed() throws {
        let channel = try self.makeChannel()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n"))
        let response = try self.readResponse(channel)
        #expect(response.hasPrefix("HTTP/1.0 503"))
        #expect(!channel.isActive)
    }
}
