import NIOCore
import NIOHTTP1
import ProxyCore
import ProxyTransport

/// After a `101 Switching Protocols`, both connections become an opaque byte relay.
extension HTTPProxyHandler {
    // MARK: upgrade

    /// After a `101 Switching Protocols`, both connections become an opaque byte relay.
    func switchToRelay(context: ChannelHandlerContext) {
        guard let upstream = self.upstream, let upstreamContext = upstream.context else {
            context.close(promise: nil)
            return
        }
        self.metrics?.recordResponse(status: 101, grpcStatus: nil, latencyNanoseconds: (NIODeadline.now() - self.started).nanoseconds)
        self.phase = .upgraded
        upstream.detach()
        self.upstream = nil
        self.lease = nil
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
        let downstreamPipeline = context.pipeline.syncOperations
        let upstreamPipeline = upstreamContext.pipeline.syncOperations
        do {
            try downstreamPipeline.addHandler(downstreamGlue)
            try upstreamPipeline.addHandler(upstreamGlue)
            // Removing the decoders forwards bytes they already read past the handshake into the relay.
            upstreamPipeline.removeHandler(upstream, promise: nil)
            upstreamPipeline.removeHandler(try upstreamPipeline.handler(type: HTTPRequestEncoder.self), promise: nil)
            upstreamPipeline.removeHandler(try upstreamPipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: nil)
            downstreamPipeline.removeHandler(context: context, promise: nil)
            downstreamPipeline.removeHandler(try downstreamPipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
            downstreamPipeline.removeHandler(try downstreamPipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
            context.channel.read()
            upstreamContext.channel.read()
        } catch {
            upstreamContext.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
