import NIOCore
import NIOHTTP1
import ProxyCore
import ProxyTransport

/// Starting an exchange: where the request goes (discovery, static table, DNS) and the upstream connection.
extension HTTPProxyHandler {
    // MARK: starting an exchange

    func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
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
            destination.use()
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
    func awaitDiscovery(
        _ destination: LoopDestination, head: HTTPRequestHead, headers: HTTPHeaders, authority: String?, key: String,
        context: ChannelHandlerContext
    ) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundDestination = NIOLoopBound(destination, eventLoop: context.eventLoop)
        let exchange = self.exchangeID
        self.discoveryTimer = destination.afterFirstAnswer(on: context.eventLoop, timeout: self.connection.discoveryTimeout) {
            let handler = bound.value
            guard handler.exchangeID == exchange, handler.phase == .connecting, let context = handler.context else { return }
            handler.discoveryTimer = nil
            handler.route(head, headers: headers, authority: authority, destination: boundDestination.value, key: key, context: context)
        }
    }

    func route(
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
                // An endpoint with an identity runs a proxy: reached with mTLS when this proxy has an identity too.
                let identity = resources.meshTLS == nil ? nil : load.endpoint.identity
                target = TrafficTarget(
                    endpoint: load.endpoint.address, authority: self.connection.destination == nil ? key : authority ?? key, identity: identity
                )
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
        if target.identity != nil && self.connection.resources.meshTLS?.current == nil {
            self.metrics = nil
            self.buffered = []
            self.respondWithError(ProxyError(.notCertified, "this proxy has no certificate yet; mTLS to \(target.endpoint) must wait"), context: context)
            return
        }
        let metrics = self.metricsSeries(authority: target.authority, target: target, labels: labels)
        metrics.recordRequest()
        self.metrics = metrics
        if authority == nil { headers.replaceOrAdd(name: "host", value: target.authority) }
        self.upstreamIsHTTP2 = self.chooseHTTP2Upstream(target: target, headers: &headers)
        if self.connection.direction == .inbound {
            // Only this proxy says who the client is: a header claiming it from outside is dropped.
            headers.remove(name: Self.clientIDHeader)
            if case .established(let client?, _) = self.connection.tls { headers.add(name: Self.clientIDHeader, value: client) }
        }

        let upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
        // Body parts that arrived while discovery answered are already in `buffered`: the head goes first.
        self.buffered.insert(.head(upstreamHead), at: 0)
        self.upstreamHead = upstreamHead
        self.upstreamTarget = target
        self.connectUpstream(target, context: context)
    }

    /// Set by the inbound proxy's peer on an HTTP/1.1 request it carried over HTTP/2: the application gets HTTP/1.1.
    static let originalProtocolHeader = "swiftlet-orig-proto"
    /// The verified identity of an mTLS client, for the application.
    static let clientIDHeader = "swiftlet-client-id"

    /// Whether the request goes upstream over HTTP/2. gRPC and other HTTP/2 traffic stays HTTP/2, except a request
    /// marked as HTTP/1.1 by the proxy that upgraded it; HTTP/1.1 to a meshed peer is carried over its multiplexed
    /// mTLS connection (upgrades excepted: `Upgrade` has no HTTP/2 form), and marked so the peer turns it back.
    func chooseHTTP2Upstream(target: TrafficTarget, headers: inout HTTPHeaders) -> Bool {
        let wasHTTP1 = headers.contains(name: Self.originalProtocolHeader)
        headers.remove(name: Self.originalProtocolHeader)
        if self.connection.isHTTP2 {
            return !(wasHTTP1 && self.connection.direction == .inbound)
        }
        guard target.identity != nil, !self.upgradeRequested else { return false }
        headers.add(name: Self.originalProtocolHeader, value: "HTTP/1.1")
        return true
    }

    func connectUpstream(_ target: TrafficTarget, context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        var upstreamTLS: UpstreamTLS? = nil
        if let identity = target.identity, let credentials = self.connection.resources.meshTLS?.current {
            upstreamTLS = UpstreamTLS(context: credentials.client(self.upstreamIsHTTP2 ? .http2 : .http1), identity: identity)
        }
        let label = self.tlsLabel(target)
        if self.upstreamIsHTTP2 {
            self.connection.resources.http2.openStream(
                target.upstreamKey, direction: self.connection.direction, tls: label, upstreamTLS: upstreamTLS
            ) { result in
                bound.value.upstreamReady(result.map { ($0, nil) })
            }
        } else {
            let pool = self.connection.resources.http1
            if let lease = pool.takeIdle(target.upstreamKey) {
                self.upstreamReady(.success((lease.handler, lease)))
                return
            }
            pool.connect(target.upstreamKey, direction: self.connection.direction, tls: label, upstreamTLS: upstreamTLS) { result in
                bound.value.upstreamReady(result.map { ($0.handler, $0) })
            }
        }
    }

    /// The `tls` label of traffic to `target`: the connection's own, or mTLS with the server's identity.
    func tlsLabel(_ target: TrafficTarget) -> TLSLabel {
        guard let identity = target.identity else { return self.connection.tls }
        return .established(clientID: nil, serverID: identity)
    }

    func metricsSeries(authority: String, target: TrafficTarget, labels: [MetricLabel]) -> RequestMetrics {
        // Compared as values: formatting the endpoint's text for every request showed in profiles.
        if let cached = self.cachedMetrics, cached.endpoint == target.endpoint, cached.authority == authority, cached.identity == target.identity {
            return cached.metrics
        }
        let series = self.connection.resources.metrics.requestMetrics(
            for: RequestLabels(
                direction: self.connection.direction, authority: authority, targetAddress: target.endpoint.description, tls: self.tlsLabel(target),
                destinationLabels: labels
            )
        )
        self.cachedMetrics = (authority, target.endpoint, target.identity, series)
        return series
    }

    func upstreamReady(_ result: Result<(UpstreamHTTPHandler, HTTP1ConnectionPool.Lease?), ProxyError>) {
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

    func forward(_ part: HTTPClientRequestPart) {
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

    func armResponseTimer() {
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
}
