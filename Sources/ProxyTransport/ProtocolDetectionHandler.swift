import NIOCore
import ProxyCore

/// Peeks at a connection's first bytes until `ProtocolDetector` gives a verdict, then hands the connection and
/// the bytes read so far to `onDetected`, which builds the rest of the pipeline. Nothing read is lost: the
/// buffered bytes are passed on after the new handlers are in place.
public final class ProtocolDetectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Adds the handlers for `protocol` after this one. Throwing closes the connection.
    public typealias Configure = (ChannelHandlerContext, DetectedProtocol) throws -> Void

    private let detector = ProtocolDetector()
    private let timeout: TimeAmount
    private let configure: Configure
    private var buffered: ByteBuffer? = nil
    private var timer: Scheduled<Void>? = nil
    private var done = false

    public init(timeout: TimeAmount, configure: @escaping Configure) {
        self.timeout = timeout
        self.configure = configure
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: self.timeout) {
            let (handler, context) = loopBound.value
            handler.finish(context: context, with: handler.detector.giveUp())
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        guard !self.done else {
            context.fireChannelRead(data)
            return
        }
        if self.buffered == nil {
            self.buffered = bytes
        } else {
            self.buffered!.writeBuffer(&bytes)
        }
        if case .detected(let proto) = self.detector.inspect(self.buffered!) {
            self.finish(context: context, with: proto)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that half-closes before we decide sends nothing more: decide now with what we have. One that
        // sent nothing at all has nothing to forward: it is closed rather than relayed, so a crowd of clients that
        // connect and leave does not leave the proxy holding half-closed relays to the destination.
        if case ChannelEvent.inputClosed = event, !self.done {
            guard let buffered = self.buffered, buffered.readableBytes > 0 else {
                self.done = true
                self.timer?.cancel()
                self.timer = nil
                context.close(promise: nil)
                return
            }
            self.finish(context: context, with: self.detector.giveUp())
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func finish(context: ChannelHandlerContext, with proto: DetectedProtocol) {
        guard !self.done else { return }
        self.done = true
        self.timer?.cancel()
        self.timer = nil
        do {
            try self.configure(context, proto)
        } catch {
            context.close(promise: nil)
            return
        }
        if let buffered = self.buffered {
            self.buffered = nil
            context.fireChannelRead(Self.wrapInboundOut(buffered))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension ProtocolDetectionHandler: Sendable {}
