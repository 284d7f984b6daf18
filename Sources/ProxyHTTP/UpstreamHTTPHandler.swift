import NIOCore
import NIOHTTP1
import ProxyCore

/// The last handler of an upstream HTTP connection (HTTP/1.1) or stream (HTTP/2): passes response parts to the
/// request's downstream handler and request parts out, holding reads while the downstream is full.
final class UpstreamHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var receiver: UpstreamResponseReceiver?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Set by the pool while the connection sits idle, so a close by the server removes it from the pool.
    var idlePool: (pool: HTTP1ConnectionPool, endpoint: UpstreamKey)?

    init() {}

    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var isActive: Bool { self.context?.channel.isActive ?? false }

    func attach(_ receiver: UpstreamResponseReceiver) {
        self.receiver = receiver
    }

    /// Ends the exchange. A read held back for a full downstream is issued now: an idle connection keeps
    /// reading so that a close by the server is seen at once.
    func detach() {
        self.receiver = nil
        self.resumeReading()
    }

    func write(_ part: HTTPClientRequestPart) {
        self.context?.write(Self.wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    /// Called when the downstream drained: a read held back for it is issued now.
    func resumeReading() {
        if self.pendingRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    func close() {
        self.receiver = nil
        self.context?.close(promise: nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let receiver = self.receiver else {
            // Bytes on an idle pooled connection: the server is misbehaving. Do not reuse it.
            context.close(promise: nil)
            return
        }
        receiver.upstreamReceived(Self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.receiver?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let receiver = self.receiver {
            self.receiver = nil
            receiver.upstreamFailed(ProxyError(.connectionReset, "upstream closed the connection"))
        } else if let (pool, endpoint) = self.idlePool {
            pool.idleConnectionClosed(self, endpoint: endpoint)
        }
        self.idlePool = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let receiver = self.receiver {
            self.receiver = nil
            receiver.upstreamFailed(Self.classify(error))
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.receiver?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let receiver = self.receiver, !receiver.downstreamWritable {
            self.pendingRead = true
        } else {
            context.read()
        }
    }

    static func classify(_ error: Error) -> ProxyError {
        if let error = error as? ProxyError { return error }
        if error is HTTPParserError {
            return ProxyError(.upstreamProtocol, "upstream sent a malformed response (\(error))")
        }
        if let error = error as? IOError, error.errnoCode == 104 {  // ECONNRESET
            return ProxyError(.connectionReset, "upstream reset the connection")
        }
        return ProxyError(.upstreamFailed, "upstream failed: \(error)")
    }
}

@available(*, unavailable)
extension UpstreamHTTPHandler: Sendable {}
