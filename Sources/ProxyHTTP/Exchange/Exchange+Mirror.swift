import NIOCore
import ProxyCore

/// RequestMirror: a copy of the request goes to another backend, and its answer is dropped. The copy is an exchange
/// of its own with nobody downstream; the original feeds it the body as it passes (up to the 64 KiB a retry would
/// keep — a mirror of a larger body is abandoned) and never waits for it.
extension Exchange {
    /// Body bytes a mirror is given at most.
    static let mirrorBodyLimit = 64 * 1024
    /// How long a mirrored request may take: a slow mirror must not hold connections without end.
    static let mirrorTimeout = TimeAmount.seconds(10)

    /// Starts a copy of this request (as it is now, filters applied) through `chain` (a backend's: its balancer).
    func startMirror(through chain: StageChain) {
        // Only to endpoints discovery gave: a mirror never falls back to the request's own authority (that would
        // send the copy to the original service). The first requests are not mirrored while discovery answers.
        guard !self.upgrade, case .discovered(let destination, _)? = chain.balancer?.source else { return }
        destination.use(now: self.now.uptimeNanoseconds)
        guard case .endpoints = destination.state else { return }
        let mirror = Exchange(
            connection: self.connection, downstream: MirrorDownstream(), head: self.request, body: self.requestBody, upgrade: false)
        mirror.mirroring = .copy(bytes: 0)
        mirror.path = ExchangePath(chain)
        // What of the request arrived already is held by this exchange: the mirror gets its own copy.
        for part in self.machine.heldParts {
            switch part {
            case .body(let bytes): mirror.mirrorBody(bytes)
            case .end(let trailers): mirror.requestEndReceived(trailers)
            }
        }
        guard !mirror.isFinished else { return }
        if case .original(let mirrors) = self.mirroring {
            self.mirroring = .original(mirrors + [mirror])
        } else {
            self.mirroring = .original([mirror])
        }
        let now = self.now
        mirror.machine.bound(request: Self.mirrorTimeout, idle: nil, perTry: nil, started: now, now: now)
        mirror.machine.targetResolved()
        mirror.armTimer()
        mirror.attemptNow()
    }

    /// A part of the original's body, for the mirror: past the limit the mirror is abandoned.
    func mirrorBody(_ bytes: ByteBuffer) {
        guard case .copy(let given) = self.mirroring else { return }
        self.mirroring = .copy(bytes: given + bytes.readableBytes)
        guard given + bytes.readableBytes <= Self.mirrorBodyLimit else {
            self.downstreamClosed()
            return
        }
        self.requestBodyReceived(bytes)
    }

    /// Feeds the original's request parts to its mirrors (the body) and ends them with it.
    func feedMirrors(body bytes: ByteBuffer?, end: Bool, trailers: HTTPFields?) {
        guard case .original(var mirrors) = self.mirroring else { return }
        mirrors.removeAll { $0.isFinished }
        self.mirroring = .original(mirrors)
        for mirror in mirrors {
            if let bytes { mirror.mirrorBody(bytes) }
            if end, !mirror.isFinished { mirror.requestEndReceived(trailers) }
        }
    }
}
