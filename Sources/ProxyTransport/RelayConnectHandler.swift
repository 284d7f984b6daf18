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

    /// Where one connection goes: chosen when the handler is added (at once, or once discovery answers).
    public struct Target {
        public var endpoint: HostPort
        public var metrics: TCPMetrics
        /// mTLS to a meshed endpoint (its proxy terminates it and relays to the application).
        public var tls: UpstreamTLS?
        /// Why the connection must not be made after all (mTLS required but not possible yet).
        public var refusal: ProxyError?
        /// Told the connect latency (the balancer learns from it).
        public var onConnected: ((_ nanoseconds: UInt64) -> Void)?
        /// Called once when the downstream connection closes (the balancer's count of open connections).
        public var onClosed: (() -> Void)?

        public init(
            endpoint: HostPort, metrics: TCPMetrics, tls: UpstreamTLS? = nil, refusal: ProxyError? = nil,
            onConnected: ((UInt64) -> Void)? = nil,
            onClosed: (() -> Void)? = nil
        ) {
            self.endpoint = endpoint
            self.metrics = metrics
            self.tls = tls
            self.refusal = refusal
            self.onConnected = onConnected
            self.onClosed = onClosed
        }
    }

    public typealias Chooser = (_ loop: EventLoop, _ chosen: @escaping (Target) -> Void) -> Void

    private let choose: Chooser
    private var destination = HostPort(host: "", port: 0)
    private let connector: UpstreamConnector
    private let onFailure: (ProxyError) -> Void
    private var held: [ByteBuffer] = []
    private var connecting = false
    private var inputClosed = false
    /// The downstream's state: a relay set up in the child initializer may connect before it is active.
    private var downstreamActive = false
    private var downstreamClosed = false
    private var upstreamWaitingForActivation: Channel?

    public convenience init(
        destination: HostPort, connector: UpstreamConnector, upstreamMetrics: TCPMetrics, onFailure: @escaping (ProxyError) -> Void
    ) {
        self.init(connector: connector, onFailure: onFailure) { _, chosen in chosen(Target(endpoint: destination, metrics: upstreamMetrics))
        }
    }

    public init(connector: UpstreamConnector, onFailure: @escaping (ProxyError) -> Void, choose: @escaping Chooser) {
        self.connector = connector
        self.onFailure = onFailure
        self.choose = choose
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.downstreamActive = true
        context.fireChannelActive()
        if let upstream = self.upstreamWaitingForActivation {
            self.upstreamWaitingForActivation = nil
            self.connected(.success(upstream), context: context)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.downstreamClosed = true
        self.upstreamWaitingForActivation?.close(promise: nil)
        self.upstreamWaitingForActivation = nil
        context.fireChannelInactive()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.downstreamActive = context.channel.isActive
        guard !self.connecting else { return }
        self.connecting = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.choose(context.eventLoop) { target in
            let (handler, context) = bound.value
            handler.connect(to: target, context: context)
        }
    }

    private func connect(to target: Target, context: ChannelHandlerContext) {
        self.destination = target.endpoint
        if let onClosed = target.onClosed {
            context.channel.closeFuture.whenComplete { _ in onClosed() }
        }
        if let refusal = target.refusal {
            self.onFailure(refusal)
            context.close(promise: nil)
            return
        }
        // The downstream may not be active yet (an opaque port's relay is set up in the child initializer): connect
        // anyway; `connected` drops the upstream if the client went away meanwhile.
        let loop = context.eventLoop
        let metrics = NIOLoopBound(target.metrics, eventLoop: loop)
        let bound = NIOLoopBound((self, context, target.onConnected), eventLoop: loop)
        let started = NIODeadline.now()
        self.connector.connect(
            to: target.endpoint, on: loop, halfClosure: true, tls: target.tls,
            transport: { channel in try channel.pipeline.syncOperations.addHandler(TCPAccountingHandler(metrics: metrics.value)) }
        ) { channel in
            channel.eventLoop.makeSucceededVoidFuture()
        }.whenComplete { result in
            let (handler, context, onConnected) = bound.value
            if case .success = result { onConnected?(UInt64(max((NIODeadline.now() - started).nanoseconds, 0))) }
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
            if self.downstreamClosed {
                upstream.close(promise: nil)
                return
            }
            guard self.downstreamActive else {
                self.upstreamWaitingForActivation = upstream
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
