import NIOCore
import ProxyCore

/// Counts a connection's opening, closing and bytes into its `tcp_*` series. First in every pipeline, so it
/// sees the bytes on the wire (TLS records, not plaintext) as Linkerd counts them.
public final class TCPAccountingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var metrics: TCPMetrics
    private var open = false

    public init(metrics: TCPMetrics) {
        self.metrics = metrics
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.markOpen() }
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.markOpen()
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if self.open {
            self.open = false
            self.metrics.recordClose()
        }
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.metrics.recordRead(Self.unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.metrics.recordWrite(Self.unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }

    /// Counts the connection in `metrics` from now on: once TLS is terminated its `tls` labels are known.
    public func retarget(_ metrics: TCPMetrics) {
        guard metrics !== self.metrics else { return }
        if self.open {
            self.metrics.forgetOpen()
            metrics.recordOpen()
        }
        self.metrics = metrics
    }

    private func markOpen() {
        guard !self.open else { return }
        self.open = true
        self.metrics.recordOpen()
    }
}

@available(*, unavailable)
extension TCPAccountingHandler: Sendable {}
