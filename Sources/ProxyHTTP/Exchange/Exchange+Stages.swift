import MeshModel
import NIOCore
import ProxyCore

/// Where the request goes: the destination's chain, its stages in order (and the chains they branch to), then the
/// balancer's first answer from discovery.
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
        self.path = ExchangePath(self.connection.chain(for: self.request.authority))
        self.runStages()
    }

    /// What a suspended stage waited for is in: it is asked again, then the stages after it. Called on the
    /// exchange's loop; nothing happens when the exchange went past its stages meanwhile.
    public func resumeStages() {
        guard !self.isFinished, self.machine.stagesResumed() else { return }
        self.runStages()
    }

    private func runStages() {
        while let stage = self.path.current {
            switch stage.request(self) {
            case .proceed:
                self.path.advance()
            case .bounded(let timeouts):
                let now = self.now
                self.machine.bound(
                    request: timeouts.request.map { .nanoseconds($0) }, idle: timeouts.idle.map { .nanoseconds($0) },
                    perTry: timeouts.backendRequest.map { .nanoseconds($0) }, started: self.started, now: now
                )
                self.armTimer()
                self.path.advance()
            case .branch(let chain):
                self.path.advance()
                self.path.branch(to: chain)
            case .suspend(let deadline):
                self.machine.stagesSuspended(until: deadline)
                self.armTimer()
                return
            case .respond(let head, let body):
                guard self.machine.stageAnswered() else { return }
                self.outcome.answeredBy = stage.answerKind
                self.respondLocally(LocalResponse(head: head, body: body))
                return
            case .fail(let error):
                if case .respond(let error) = self.machine.respond(error) { self.answer(with: error) }
                return
            }
        }
        self.stagesPassed()
    }

    /// Every stage let the request go on: the first attempt goes, once the balancer has heard from discovery. The
    /// first request for a destination waits for discovery's first answer, up to the timeout; then it is routed as
    /// if discovery did not know the name (static table, DNS).
    private func stagesPassed() {
        let replay = self.path.replaysRequests
        guard let balancer = self.path.balancer, balancer.needsClock else {
            self.machine.stagesPassed(replay: replay)
            self.attemptNow()
            return
        }
        let now = self.now
        guard let pending = balancer.pendingDestination(now: now.uptimeNanoseconds) else {
            self.machine.stagesPassed(replay: replay)
            self.attemptNow()
            return
        }
        self.machine.stagesPassed(replay: replay, awaitingEndpointsUntil: now + self.connection.discoveryTimeout)
        self.armTimer()
        let loop = self.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        pending.entry.whenAnswered {
            loop.execute {
                let exchange = bound.value
                guard !exchange.isFinished, exchange.machine.endpointsAwaited() else { return }
                exchange.attemptNow()
            }
        }
    }
}
