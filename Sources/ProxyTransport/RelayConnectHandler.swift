import NIOCore
import ProxyCore

/// Connects a downstream connection to its destination and turns both into an opaque relay.
///
/// Bytes that arrive before the upstream is connected (including those read during detection) are held and
/// written first; reading pauses until then, so a fast client cannot make the proxy buffer without bound.
public final class RelayConnectHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let destination: HostPort
    private let connector: UpstreamConnector
    private let upstreamMetrics: TCPMetrics
    private let onFailure: (ProxyError) -> Void
    private var held: [ByteBuffer] = []
    private var connecting = false
    private var inputClosed = false

    public init(destination: HostPort, connector: UpstreamConnector, upstreamMetrics: TCPMetrics, onFailure: @escaping (ProxyError) -> Void) {
        self.destination = destination
        self.connector = connector
        self.upstreamMetrics = upstreamMetrics
        self.onFailure = onFailure
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard !self.connecting else { return }
        self.connecting = true
        let metrics = NIOLoopBound(self.upstreamMetrics, eventLoop: context.eventLoop)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.connector.connect(to: self.destination, on: context.eventLoop, halfClosure: true) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: metrics.value))
            }
        }.whenComplete { result in
            let (handler, context) = bound.value
            handler.connected(result, context: context)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.held.append(Self.unwrapInboundIn(data))
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { self.inputClosed = true }
        context.fireUserInboundEventTriggered(event)
    }

    public func read(context: ChannelHandlerContext) {
        // Held back until connected: the relay's own back-pressure takes over from there.
    }

    private func connected(_ result: Result<Channel, Error>, context: ChannelHandlerContext) {
        switch result {
        case .failure(let error):
            self.onFailure(UpstreamConnector.classify(error, endpoint: self.destination))
            context.close(promise: nil)
        case .success(let upstream):
            guard context.channel.isActive else {
                upstream.close(promise: nil)
                return
            }
            let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
            do {
                try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
                try context.pipeline.syncOperations.addHandler(downstreamGlue, position: .after(self))
            } catch {
                upstream.close(promise: nil)
                context.close(promise: nil)
                return
            }
            for buffer in self.held { upstream.write(buffer, promise: nil) }
            self.held = []
            upstream.flush()
            if self.inputClosed {
                context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            context.channel.read()
            upstream.read()
        }
    }
}

@available(*, unavailable)
extension RelayConnectHandler: Sendable {}
