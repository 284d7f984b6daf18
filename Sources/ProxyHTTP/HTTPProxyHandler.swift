import NIOCore
import NIOHTTP1
import ProxyCore
import ProxyTransport

/// Forwards requests from one downstream HTTP/1.1 connection, or one HTTP/2 stream, to upstream endpoints and
/// their responses back, streaming bodies with back-pressure in both directions.
///
/// One exchange at a time: HTTP/1.1 pipelined requests wait in `queued` until the response before them is done.
/// Errors become responses here, at the edge, with a `swiftlet-proxy-error` header.
public final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamResponseReceiver {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    /// `discarding`: the response went out before the request ended (an error, or an upstream that answered
    /// early); the rest of the request is read and dropped so the connection can carry the next one.
    enum Phase { case idle, connecting, forwarding, discarding, upgraded, closed }

    let connection: HTTPConnectionContext
    var context: ChannelHandlerContext?
    var phase = Phase.idle

    // The exchange in progress.
    var upstream: UpstreamHTTPHandler?
    var lease: HTTP1ConnectionPool.Lease?
    var buffered: [HTTPClientRequestPart] = []
    var requestComplete = false
    var responseHeadSent = false
    var upstreamKeepAlive = true
    var keepAlive = true
    var upgradeRequested = false
    var requestVersion = HTTPVersion.http1_1
    var responseStatus = 0
    var grpcStatus: Int? = nil
    var started = NIODeadline.now()
    var metrics: RequestMetrics?
    var responseTimer: Scheduled<Void>?
    var upstreamNeedsFlush = false
    /// The request as sent upstream, kept while it may still be replayed on a fresh connection.
    var upstreamHead: HTTPRequestHead?
    var upstreamTarget: TrafficTarget?
    var bodyForwarded = false
    var replayed = false
    /// gRPC status fields of a trailers-only response, sent as trailers at the response's end.
    var trailersFromHead: HTTPHeaders?
    /// A `101` went downstream; the relay starts at its `.end`.
    var switchingProtocols = false

    /// The endpoint the balancer chose for this exchange; told the latency when it ends.
    var endpointLoad: EndpointLoad?
    var discoveryTimer: Scheduled<Void>?
    /// Tells a late discovery answer which exchange it was for.
    var exchangeID = 0

    var pendingRead = false
    var queued = CircularBuffer<HTTPServerRequestPart>()
    /// The metrics series of the last authority seen: the common keep-alive case skips the lookup.
    var cachedMetrics: (authority: String, endpoint: HostPort, identity: String?, metrics: RequestMetrics)?
    /// The exchange's upstream speaks HTTP/2 (a gRPC call, or HTTP/1.1 carried to a meshed peer).
    var upstreamIsHTTP2 = false

    public init(connection: HTTPConnectionContext) {
        self.connection = connection
    }

    // MARK: downstream events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        if !self.queued.isEmpty || (self.phase != .idle && self.requestComplete) {
            self.queued.append(part)
            return
        }
        self.handle(part, context: context)
    }

    func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            guard self.phase == .idle else { return }
            self.startExchange(head, context: context)
        case .body(let body):
            self.bodyForwarded = true
            self.forward(.body(.byteBuffer(body)))
        case .end(let trailers):
            self.requestComplete = true
            if self.phase == .discarding {
                self.phase = .idle
                self.drainQueue(context: context)
                return
            }
            self.forward(.end(trailers))
            if self.phase == .forwarding { self.armResponseTimer() }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if self.upstreamNeedsFlush {
            self.upstreamNeedsFlush = false
            self.upstream?.flush()
        }
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.endpointLoad?.abandoned()
        self.endpointLoad = nil
        self.discoveryTimer?.cancel()
        self.discoveryTimer = nil
        self.abortUpstream()
        self.phase = .closed
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError, self.phase == .idle || !self.responseHeadSent {
            // Malformed request: answer 400 and close cleanly, never reaching an upstream.
            self.abortUpstream()
            self.keepAlive = false
            self.requestComplete = false
            // Not a request of any series: counted in `*_http_errors_total` only.
            self.metrics = nil
            self.respondWithError(ProxyError(.malformedRequest, "malformed HTTP request: \(error)"), context: context)
            return
        }
        self.abortUpstream()
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        if self.canRead {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client sent its last byte (accepted connections allow half-close for the opaque relay): answer
            // what is in flight, then close; close at once if nothing is.
            self.keepAlive = false
            if self.phase == .idle || self.phase == .discarding { context.close(promise: nil) }
            return
        }
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: finish the exchange in flight, then close; close at once if idle.
            self.keepAlive = false
            if self.phase == .idle { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Once the request is complete the connection keeps reading until a pipelined part is queued: a client
    /// that waits for its response then sends nothing, and holding the read would cost two `epoll_ctl` calls
    /// per request (read interest off, then on again) for nothing. The queue stays bounded by one read.
    var canRead: Bool {
        switch self.phase {
        case .idle, .discarding: return true
        case .connecting, .forwarding:
            // The same while the upstream (or its HTTP/2 stream) is being opened; a body waits for it.
            if self.requestComplete { return self.queued.isEmpty && !self.upgradeRequested }
            return self.phase == .forwarding && (self.upstream?.isWritable ?? false)
        case .upgraded, .closed: return false
        }
    }

    func resumeReadingIfPossible() {
        if self.pendingRead, self.canRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    // MARK: upstream events

    var downstreamWritable: Bool { self.context?.channel.isWritable ?? false }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context = self.context, self.phase == .forwarding else { return }
        switch part {
        case .head(let head):
            if (100..<200).contains(head.status.code), head.status != .switchingProtocols {
                context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
                return
            }
            self.responseTimer?.cancel()
            self.responseTimer = nil
            self.responseStatus = Int(head.status.code)
            self.upstreamKeepAlive = head.isKeepAlive
            var headers = head.headers
            if head.status == .switchingProtocols, self.upgradeRequested {
                headers.removeHopByHopFields(keepingUpgrade: true)
                headers.replaceOrAdd(name: "connection", value: "upgrade")
                self.responseHeadSent = true
                context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: self.requestVersion, status: head.status, headers: headers))), promise: nil)
                context.flush()
                self.switchingProtocols = true
                return
            }
            headers.removeHopByHopFields()
            if let value = headers.first(name: "grpc-status") {
                self.grpcStatus = Int(value)
                if self.connection.isHTTP2 {
                    // A gRPC "trailers-only" response. Sent on as a head, its end would become an empty DATA frame
                    // and the status would be lost; carry the status fields as trailers instead.
                    var trailers = HTTPHeaders()
                    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                        for value in headers[canonicalForm: name] { trailers.add(name: name, value: String(value)) }
                        headers.remove(name: name)
                    }
                    self.trailersFromHead = trailers
                }
            }
            if self.upgradeRequested && !self.connection.isHTTP2 {
                // The upstream declined the upgrade; our decoder stopped parsing at the upgrade request.
                self.keepAlive = false
            }
            if !self.connection.isHTTP2, !self.keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            self.responseHeadSent = true
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: self.requestVersion, status: head.status, headers: headers))), promise: nil)
        case .body(let body):
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        case .end(let trailers):
            if self.switchingProtocols {
                // The 101's end: nothing of HTTP is left in flight on either side, so both become a relay now.
                self.switchToRelay(context: context)
                return
            }
            var trailers = trailers
            if let fromHead = self.trailersFromHead {
                self.trailersFromHead = nil
                trailers = trailers ?? HTTPHeaders()
                trailers!.add(contentsOf: fromHead)
            }
            if let value = trailers?.first(name: "grpc-status") { self.grpcStatus = Int(value) }
            context.write(Self.wrapOutboundOut(.end(trailers)), promise: nil)
            self.finishExchange(context: context, reusable: self.requestComplete && self.upstreamKeepAlive)
        }
    }

    func upstreamReadComplete() {
        self.context?.flush()
    }

    func upstreamBecameWritable() {
        self.resumeReadingIfPossible()
    }

    func upstreamFailed(_ error: ProxyError) {
        guard let context = self.context, self.phase == .forwarding || self.phase == .connecting else { return }
        if self.canReplay(after: error), let head = self.upstreamHead, let target = self.upstreamTarget {
            // A pooled connection the server closed as we reused it: nothing of the request was consumed, so it
            // goes once more on another connection, as browsers and other proxies do.
            self.replayed = true
            self.abortUpstream()
            self.phase = .connecting
            self.buffered = [.head(head)]
            if self.requestComplete { self.buffered.append(.end(nil)) }
            self.connectUpstream(target, context: context)
            return
        }
        self.abortUpstream()
        if self.responseHeadSent {
            // Too late for an error response: the client sees the stream cut.
            self.phase = .closed
            context.close(promise: nil)
            return
        }
        self.respondWithError(error, context: context)
    }

    /// Only a request whose bytes were never answered, on a reused HTTP/1.1 connection that then closed, and
    /// with no body (a body may have been partly consumed), is replayed; and only once.
    func canReplay(after error: ProxyError) -> Bool {
        guard !self.replayed, !self.responseHeadSent, !self.bodyForwarded, self.lease?.reused == true else { return false }
        return error.code == .connectionReset || error.code == .upstreamFailed
    }

    // MARK: finishing

    func finishExchange(context: ChannelHandlerContext, reusable: Bool) {
        let now = NIODeadline.now()
        let elapsed = now - self.started
        if let load = self.endpointLoad {
            self.endpointLoad = nil
            load.finished(rttNanoseconds: UInt64(max(elapsed.nanoseconds, 0)), now: now.uptimeNanoseconds)
        }
        self.metrics?.recordResponse(status: self.responseStatus, grpcStatus: self.grpcStatus, latencyNanoseconds: elapsed.nanoseconds)
        self.responseTimer?.cancel()
        self.responseTimer = nil
        if let upstream = self.upstream {
            upstream.detach()
            if let lease = self.lease, reusable {
                self.connection.resources.http1.release(lease)
            } else if self.lease != nil || !self.requestComplete {
                // HTTP/1.1 that cannot be reused, or an HTTP/2 stream whose request is still open: close it.
                upstream.close()
            }
        }
        self.upstream = nil
        self.lease = nil
        self.phase = self.requestComplete ? .idle : .discarding
        context.flush()
        if !self.connection.isHTTP2 && !self.keepAlive {
            self.phase = .closed
            context.close(promise: nil)
            return
        }
        self.drainQueue(context: context)
        self.resumeReadingIfPossible()
    }

    func drainQueue(context: ChannelHandlerContext) {
        while self.phase == .idle || self.phase == .discarding || (self.phase != .closed && !self.requestComplete),
            let part = self.queued.popFirst()
        {
            self.handle(part, context: context)
        }
    }

    func abortUpstream() {
        self.responseTimer?.cancel()
        self.responseTimer = nil
        if let upstream = self.upstream {
            upstream.close()
            self.upstream = nil
        }
        self.lease = nil
        self.buffered = []
    }

    /// Answers `error` with its status and a `swiftlet-proxy-error` header, closing the connection when the
    /// request was not read to its end (HTTP/1.1) or the client asked to.
    func respondWithError(_ error: ProxyError, context: ChannelHandlerContext) {
        self.connection.resources.metrics.recordHTTPError(self.connection.direction, error.code)
        self.connection.logger.debug(
            "answering with an error", metadata: ["direction": "\(self.connection.direction.label)", "error": "\(error)"]
        )
        self.responseStatus = error.code.httpStatus
        let body = "\(error.description)\n"
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "swiftlet-proxy-error", value: error.headerValue)
        let closing = !self.connection.isHTTP2 && !self.keepAlive
        if closing { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: self.requestVersion, status: HTTPResponseStatus(statusCode: error.code.httpStatus), headers: headers)
        self.responseHeadSent = true
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.write(Self.wrapOutboundOut(.end(nil)), promise: nil)
        self.finishExchange(context: context, reusable: false)
    }

}

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}
