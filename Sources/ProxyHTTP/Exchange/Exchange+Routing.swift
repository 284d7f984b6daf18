import NIOCore
import ProxyCore
import ProxyTransport

/// Where the request goes: discovery (waiting for its first answer if need be), the stages, the balancer, and an
/// upstream connection or stream.
extension Exchange {
    /// Set by the inbound proxy's peer on an HTTP/1.1 request it carried over HTTP/2: the application gets HTTP/1.1.
    static let originalProtocolHeader = "swiftlet-orig-proto"
    /// The verified identity of an mTLS client, for the application.
    static let clientIDHeader = "swiftlet-client-id"

    func start() {
        self.request.fields.removeConnectionFields(keepingUpgrade: self.upgrade && !self.connection.isHTTP2)
        if self.direction == .inbound {
            // Only this proxy says who the client is: a field claiming it from outside is dropped.
            self.request.fields.remove(Self.clientIDHeader)
            if case .established(let client?, _) = self.connection.tls { self.request.fields.add(Self.clientIDHeader, client) }
        }
        let (key, destination) = self.connection.route(for: self.request.authority)
        self.destinationKey = key
        guard let destination else {
            self.route()
            return
        }
        self.destination = destination
        destination.use(now: self.eventLoop.now.uptimeNanoseconds)
        guard destination.state == .pending else {
            self.route()
            return
        }
        // The first request for a destination waits for discovery's first answer, up to the timeout; then it is
        // routed as if discovery did not know the name (static table, DNS).
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.discoveryTimer = destination.afterFirstAnswer(on: self.eventLoop, timeout: self.connection.discoveryTimeout) {
            let exchange = bound.value
            exchange.discoveryTimer = nil
            guard !exchange.isFinished, exchange.machine.phase == .waitingForTarget else { return }
            exchange.route()
        }
    }

    /// The destination is known: its stages see the request, then the first attempt goes out.
    func route() {
        let name = self.destinationKey ?? self.connection.destinationName ?? self.request.authority ?? ""
        let chain = self.connection.chain(for: StageTarget(direction: self.direction, name: name, discovered: self.destinationKey != nil))
        self.chain = chain
        self.stageIndex = 0
        self.runStages()
    }

    /// A stage that suspended the exchange has what it waited for: it is asked again, then the stages after it.
    public func resumeStages() {
        guard !self.isFinished, self.machine.phase == .waitingForTarget else { return }
        self.runStages()
    }

    private func runStages() {
        guard let chain = self.chain else { return }
        while self.stageIndex < chain.stages.count {
            switch chain.stages[self.stageIndex].request(self) {
            case .proceed:
                self.stageIndex += 1
                continue
            case .suspend:
                return
            case .respond(let head, let body):
                _ = self.machine.respond(ProxyError(.noRoute, "answered by a stage"))
                self.respondLocally(head, body: body)
                return
            case .fail(let error):
                if case .respond(let error) = self.machine.respond(error) { self.answer(with: error) }
                return
            }
        }
        if self.retainBody { self.machine.startRetaining() }
        self.machine.targetResolved()
        self.attempt()
    }

    /// Picks an endpoint and opens an upstream to it (again, for a retry).
    func attempt() {
        let chosen: ChosenEndpoint
        do throws(ProxyError) {
            chosen = try self.pick()
        } catch {
            if case .respond(let error) = self.machine.respond(error) { self.answer(with: error) }
            return
        }
        if let identity = chosen.target.identity, let refusal = self.connection.resources.endpoints.refusal(identity: identity, endpoint: chosen.target.endpoint) {
            chosen.load?.abandoned()
            if case .respond(let error) = self.machine.respond(refusal) { self.answer(with: error) }
            return
        }
        self.chosen = chosen
        self.attemptSettled = false
        // Only a routed request's backend series times its attempts.
        if self.routed != nil { self.attemptStarted = self.eventLoop.now }
        if let chain = self.chain {
            for stage in chain.stages { stage.endpointChosen(chosen, self) }
        }
        if self.request.authority == nil { self.request.authority = chosen.target.authority }
        self.upstreamIsHTTP2 = self.chooseHTTP2Upstream(chosen.target)
        self.connectUpstream(chosen.target)
    }

    /// A retry a stage asked for: after its backoff, if it set one.
    func attemptAgain() {
        guard let delay = self.retryDelay, delay > .zero else {
            self.attempt()
            return
        }
        self.retryDelay = nil
        self.schedule(after: delay) { $0.attempt() }
    }

    /// The endpoint of this attempt: discovery's balancer, else the static table or the name itself (DNS).
    func pick() throws(ProxyError) -> ChosenEndpoint {
        let resources = self.connection.resources
        let authority = self.request.authority
        switch self.destination?.state {
        case .endpoints?:
            guard let key = self.destinationKey, let destination = self.destination else { throw ProxyError(.noEndpoints, "no endpoint to send to") }
            // Explicit mode names the destination by its authority; transparent mode keeps the request's own.
            return try resources.endpoints.pick(
                destination, key: key, authority: self.connection.destination == nil ? key : authority ?? key, avoiding: self.failedEndpoint,
                now: self.eventLoop.now.uptimeNanoseconds
            )
        case .noEndpoints(exists: true)?:
            throw ProxyError(.noEndpoints, "\(self.destinationKey ?? "the destination") has no endpoints")
        case .noEndpoints(exists: false)?, .pending?, nil:
            let target = try self.connection.router.requestTarget(
                authority: authority, connectionDestination: self.connection.destination, pick: { resources.pick($0) }
            )
            return ChosenEndpoint(target: target, labels: [], load: nil)
        }
    }

    /// Whether the request goes upstream over HTTP/2. HTTP/2 stays HTTP/2 (gRPC needs it end to end), except a
    /// request the peer proxy marked as HTTP/1.1; HTTP/1.1 to a meshed peer is carried over its multiplexed mTLS
    /// connection (upgrades excepted: `Upgrade` has no HTTP/2 form), and marked so the peer turns it back.
    func chooseHTTP2Upstream(_ target: TrafficTarget) -> Bool {
        let wasHTTP1 = self.request.fields.contains(Self.originalProtocolHeader)
        if wasHTTP1 { self.request.fields.remove(Self.originalProtocolHeader) }
        if self.connection.isHTTP2 {
            return !(wasHTTP1 && self.direction == .inbound)
        }
        guard target.identity != nil, !self.upgrade else { return false }
        self.request.fields.add(Self.originalProtocolHeader, "HTTP/1.1")
        return true
    }

    func connectUpstream(_ target: TrafficTarget) {
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.connection.resources.endpoints.open(target, http2: self.upstreamIsHTTP2, direction: self.direction, tls: self.tlsLabel(target)) { result in
            let exchange = bound.value
            switch result {
            case .success(let upstream):
                guard !exchange.isFinished else {
                    upstream.release(reusable: true)
                    return
                }
                exchange.upstreamReady(upstream)
            case .failure(let error):
                exchange.upstreamFailed(error)
            }
        }
    }
}
