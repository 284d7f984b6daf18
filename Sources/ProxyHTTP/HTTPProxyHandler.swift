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

    private let connection: HTTPConnectionContext
    private var context: ChannelHandlerContext?
    private var phase = Phase.idle

    // The exchange in progress.
    private var upstream: UpstreamHTTPHandler?
    private var lease: HTTP1ConnectionPool.Lease?
    private var buffered: [HTTPClientRequestPart] = []
    private var requestComplete = false
    private var responseHeadSent = false
    private var upstreamKeepAlive = true
    private var keepAlive = true
    private var upgradeRequested = false
    private var requestVersion = HTTPVersion.http1_1
    private var responseStatus = 0
    private var grpcStatus: Int? = nil
    private var started = NIODeadline.now()
    private var metrics: RequestMetrics?
    private var responseTimer: Scheduled<Void>?
    private var upstreamNeedsFlush = false
    /// The request as sent upstream, kept while it may still be replayed on a fresh connection.
    private var upstreamHead: HTTPRequestHead?
    private var upstreamTarget: TrafficTarget?
    private var bodyForwarded = false
    private var replayed = false
    /// gRPC status fields of a trailers-only response, sent as trailers at the response's end.
    private var trailersFromHead: HTTPHeaders?
    /// A `101` went downstream; the relay starts at its `.end`.
    private var switchingProtocols = false

    /// The endpoint the balancer chose for this exchange; told the latency when it ends.
    private var endpointLoad: EndpointLoad?
    private var discoveryTimer: Scheduled<Void>?
    private var awaitingDiscovery = false
    /// Tells a late discovery answer which exchange it was for.
    private var exchangeID = 0

    private var pendingRead = false
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// The metrics series of the last authority seen: the common keep-alive case skips the lookup.
    private var cachedMetrics: (authority: String, endpoint: HostPort, metrics: RequestMetrics)?

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

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
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
    private var canRead: Bool {
        switch self.phase {
        case .idle, .discarding: return true
        case .forwarding:
            if self.requestComplete { return self.queued.isEmpty && !self.upgradeRequested }
            return self.upstream?.isWritable ?? false
        case .connecting, .upgraded, .closed: return false
        }
    }

    private func resumeReadingIfPossible() {
        if self.pendingRead, self.canRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    // MARK: starting an exchange

    private func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.exchangeID &+= 1
        self.phase = .connecting
        self.started = .now()
        self.requestComplete = false
        self.responseHeadSent = false
        self.responseStatus = 0
        self.grpcStatus = nil
        self.upstreamKeepAlive = true
        self.requestVersion = head.version
        if !self.connection.isHTTP2 {
            self.keepAlive = self.keepAlive && head.isKeepAlive && head.version.major == 1 && head.version.minor >= 1
        }

        var headers = head.headers
        let upgrade = headers.removeHopByHopFields(keepingUpgrade: !self.connection.isHTTP2)
        self.upgradeRequested = upgrade != nil
        let authority = headers.first(name: "host")
        self.buffered = []
        self.bodyForwarded = false
        self.replayed = false
        self.endpointLoad = nil

        if let key = self.connection.router.discoveryKey(
            direction: self.connection.direction, authority: authority, connectionDestination: self.connection.destination
        ),
            let destination = self.connection.resources.destination(for: key)
        {
            let now = NIODeadline.now().uptimeNanoseconds
            destination.entry.touch(now: now)
            destination.refresh(now: now)
            if destination.state == .pending {
                self.awaitDiscovery(destination, head: head, headers: headers, authority: authority, key: key, context: context)
                return
            }
            self.route(head, headers: headers, authority: authority, destination: destination, key: key, context: context)
            return
        }
        self.route(head, headers: headers, authority: authority, destination: nil, key: nil, context: context)
    }

    /// The first request for a destination waits for discovery's first answer, up to the connect timeout; then it
    /// is routed as if discovery did not know the name (static table, DNS).
    private func awaitDiscovery(
        _ destination: LoopDestination, head: HTTPRequestHead, headers: HTTPHeaders, authority: String?, key: String,
        context: ChannelHandlerContext
    ) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundDestination = NIOLoopBound(destination, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let exchange = self.exchangeID
        self.awaitingDiscovery = true
        let proceed: @Sendable () -> Void = {
            loop.execute {
                let handler = bound.value
                guard handler.exchangeID == exchange, handler.awaitingDiscovery, handler.phase == .connecting,
                    let context = handler.context
                else { return }
                handler.awaitingDiscovery = false
                handler.discoveryTimer?.cancel()
                handler.discoveryTimer = nil
                let destination = boundDestination.value
                destination.refresh(now: NIODeadline.now().uptimeNanoseconds)
                handler.route(head, headers: headers, authority: authority, destination: destination, key: key, context: context)
            }
        }
        self.discoveryTimer = loop.scheduleTask(in: self.connection.discoveryTimeout) { proceed() }
        destination.entry.whenAnswered(proceed)
    }

    private func route(
        _ head: HTTPRequestHead, headers: HTTPHeaders, authority: String?, destination: LoopDestination?, key: String?,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        let target: TrafficTarget
        var labels: [MetricLabel] = []
        do throws(ProxyError) {
            let resources = self.connection.resources
            switch destination?.state {
            case .endpoints?:
                let now = NIODeadline.now().uptimeNanoseconds
                guard let key, let load = destination?.pick(now: now) else { throw ProxyError(.noEndpoints, "no endpoint to send to") }
                load.started()
                self.endpointLoad = load
                // Explicit mode names the destination by its authority; transparent mode keeps the request's own.
                target = TrafficTarget(endpoint: load.endpoint.address, authority: self.connection.destination == nil ? key : authority ?? key)
                labels = load.endpoint.labels
            case .noEndpoints(exists: true)?:
                throw ProxyError(.noEndpoints, "\(key ?? "the destination") has no endpoints")
            case .noEndpoints(exists: false)?, .pending?, nil:
                target = try self.connection.router.requestTarget(
                    authority: authority, connectionDestination: self.connection.destination,
                    pick: { resources.pick($0) }
                )
            }
        } catch {
            self.metrics = nil
            self.buffered = []
            self.respondWithError(error, context: context)
            return
        }
        let metrics = self.metricsSeries(authority: target.authority, endpoint: target.endpoint, labels: labels)
        metrics.recordRequest()
        self.metrics = metrics
        if authority == nil { headers.replaceOrAdd(name: "host", value: target.authority) }

        let upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
        // Body parts that arrived while discovery answered are already in `buffered`: the head goes first.
        self.buffered.insert(.head(upstreamHead), at: 0)
        self.upstreamHead = upstreamHead
        self.upstreamTarget = target
        self.connectUpstream(target, context: context)
    }

    private func connectUpstream(_ target: TrafficTarget, context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if self.connection.isHTTP2 {
            self.connection.resources.http2.openStream(target.endpoint, direction: self.connection.direction, tls: self.connection.tls) { result in
                bound.value.upstreamReady(result.map { ($0, nil) })
            }
        } else {
            let pool = self.connection.resources.http1
            if let lease = pool.takeIdle(target.endpoint) {
                self.upstreamReady(.success((lease.handler, lease)))
                return
            }
            pool.connect(target.endpoint, direction: self.connection.direction, tls: self.connection.tls) { result in
                bound.value.upstreamReady(result.map { ($0.handler, $0) })
            }
        }
    }

    private func metricsSeries(authority: String, endpoint: HostPort, labels: [MetricLabel]) -> RequestMetrics {
        // Compared as values: formatting the endpoint's text for every request showed in profiles.
        if let cached = self.cachedMetrics, cached.endpoint == endpoint, cached.authority == authority {
            return cached.metrics
        }
        let series = self.connection.resources.metrics.requestMetrics(
            for: RequestLabels(
                direction: self.connection.direction, authority: authority, targetAddress: endpoint.description, tls: self.connection.tls,
                destinationLabels: labels
            )
        )
        self.cachedMetrics = (authority, endpoint, series)
        return series
    }

    private func upstreamReady(_ result: Result<(UpstreamHTTPHandler, HTTP1ConnectionPool.Lease?), ProxyError>) {
        guard self.phase == .connecting, let context = self.context else {
            // The client went away while we connected: hand the connection back unused.
            if case .success(let (handler, lease)) = result {
                if let lease { self.connection.resources.http1.release(lease) } else { handler.close() }
            }
            return
        }
        switch result {
        case .failure(let error):
            self.buffered = []
            self.respondWithError(error, context: context)
        case .success(let (handler, lease)):
            self.upstream = handler
            self.lease = lease
            self.phase = .forwarding
            handler.attach(self)
            for part in self.buffered { handler.write(part) }
            self.buffered = []
            handler.flush()
            if self.requestComplete { self.armResponseTimer() }
            self.resumeReadingIfPossible()
        }
    }

    private func forward(_ part: HTTPClientRequestPart) {
        switch self.phase {
        case .connecting:
            self.buffered.append(part)
        case .forwarding:
            self.upstream?.write(part)
            self.upstreamNeedsFlush = true
        case .idle, .discarding, .upgraded, .closed:
            break
        }
    }

    private func armResponseTimer() {
        guard let timeout = self.connection.responseTimeout, self.responseTimer == nil, !self.responseHeadSent,
            let context = self.context
        else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.responseTimer = context.eventLoop.scheduleTask(in: timeout) {
            let handler = bound.value
            handler.responseTimer = nil
            handler.upstreamFailed(ProxyError(.responseTimeout, "no response within \(timeout.nanoseconds / 1_000_000)ms"))
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
    private func canReplay(after error: ProxyError) -> Bool {
        guard !self.replayed, !self.responseHeadSent, !self.bodyForwarded, self.lease?.reused == true else { return false }
        return error.code == .connectionReset || error.code == .upstreamFailed
    }

    // MARK: finishing

    private func finishExchange(context: ChannelHandlerContext, reusable: Bool) {
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

    private func drainQueue(context: ChannelHandlerContext) {
        while self.phase == .idle || self.phase == .discarding || (self.phase != .closed && !self.requestComplete),
            let part = self.queued.popFirst()
        {
            self.handle(part, context: context)
        }
    }

    private func abortUpstream() {
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
    private func respondWithError(_ error: ProxyError, context: ChannelHandlerContext) {
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

    // MARK: upgrade

    /// After a `101 Switching Protocols`, both connections become an opaque byte relay.
    private func switchToRelay(context: ChannelHandlerContext) {
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

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}
