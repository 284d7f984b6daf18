import NIOCore

/// One half of an opaque byte relay between two channels on the same event loop.
///
/// Back-pressure: a side stops reading while its partner cannot take more writes. Half-close: when one peer
/// finishes sending, the partner's output is shut, so protocols that rely on half-close keep working.
public final class GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias OutboundIn = NIOAny
    public typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false

    private init() {}

    /// A joined pair: add the first to one channel and the second to the other.
    public static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner?.partnerWrite(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.partner?.partnerCloseFully()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.inputClosed = true
            self.partner?.partnerCloseOutput()
            if self.outputClosed { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.partner?.partnerBecameWritable() }
    }

    public func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    // MARK: calls from the partner

    private func partnerWrite(_ data: NIOAny) {
        self.context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private func partnerCloseOutput() {
        guard let context = self.context, !self.outputClosed else { return }
        self.outputClosed = true
        context.flush()
        if self.inputClosed {
            context.close(promise: nil)
        } else {
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.close(mode: .output).whenFailure { _ in boundContext.value.close(promise: nil) }
        }
    }

    private func partnerCloseFully() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
