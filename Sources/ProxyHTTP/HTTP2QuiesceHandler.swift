import NIOCore
import NIOHTTP2

/// Ends an HTTP/2 server connection once it is winding down and its last stream is done.
///
/// Winding down: the proxy drains (`ChannelShouldQuiesceEvent`, passed on so each stream finishes its exchange),
/// or the client closed its side (a FIN or a TLS close_notify; accepted connections allow half-closure for the
/// opaque relay, so nothing else would ever close such a connection). The HTTP/2 handler does not close an idle
/// connection by itself, which left idle connections (between proxies, most of all) open until the grace
/// period's end, or for ever.
final class HTTP2QuiesceHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var openStreams = 0
    private var quiescing = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Tells this handler when streams open and close (the HTTP/2 handler's stream delegate).
    func streamDelegate(on loop: EventLoop) -> NIOHTTP2StreamDelegate {
        Delegate(handler: NIOLoopBound(self, eventLoop: loop))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.quiesce(context: context)
            return
        }
        if event is ChannelShouldQuiesceEvent {
            self.quiesce(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func quiesce(context: ChannelHandlerContext) {
        if !self.quiescing {
            self.quiescing = true
            // Streams in flight learn it too, so each closes after its exchange.
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        if self.openStreams == 0 { context.close(promise: nil) }
    }

    fileprivate func streamOpened() {
        self.openStreams += 1
    }

    fileprivate func streamClosed() {
        self.openStreams -= 1
        if self.quiescing, self.openStreams == 0, let context = self.context { context.close(promise: nil) }
    }

    private struct Delegate: NIOHTTP2StreamDelegate {
        let handler: NIOLoopBound<HTTP2QuiesceHandler>

        func streamCreated(_ id: HTTP2StreamID, channel: Channel) {
            self.handler.value.streamOpened()
        }

        func streamClosed(_ id: HTTP2StreamID, channel: Channel) {
            self.handler.value.streamClosed()
        }
    }
}

@available(*, unavailable)
extension HTTP2QuiesceHandler: Sendable {}

extension ChannelPipeline.SynchronousOperations {
    /// The HTTP/2 server pipeline of a proxied connection: the codec with the proxy's tuning, and a handler that
    /// closes the connection once it winds down (see `HTTP2QuiesceHandler`).
    public func configureProxyHTTP2Server(
        on loop: EventLoop, streamInitializer: @escaping NIOChannelInitializer
    ) throws {
        let quiesce = HTTP2QuiesceHandler()
        try self.addHandler(quiesce)
        _ = try self.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: HTTP2Tuning.connection,
            streamConfiguration: HTTP2Tuning.stream,
            streamDelegate: quiesce.streamDelegate(on: loop),
            inboundStreamInitializer: streamInitializer
        )
    }
}
