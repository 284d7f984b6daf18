import NIOCore
import ProxyCore
import ProxyTransport

/// The one place an attempt's endpoint is chosen and reached, for HTTP exchanges and the opaque relay alike: the
/// balancer's pick among a destination's endpoints (P2C over peak-EWMA, failure accrual, away from the endpoint that
/// just failed), the rule that an endpoint with an identity runs a proxy and is reached over mTLS — never in
/// plaintext instead, and not before this proxy is certified —, the connection itself, and the attempt's
/// settlement: its latency into the endpoint's EWMA, its outcome into failure accrual.
public final class EndpointClient {
    /// Mesh TLS, when the proxy has an identity.
    public let meshTLS: MeshTLS?
    let upstreams: any UpstreamOpener

    init(meshTLS: MeshTLS?, upstreams: any UpstreamOpener) {
        self.meshTLS = meshTLS
        self.upstreams = upstreams
    }

    /// An endpoint of `destination` (discovery named it `key`) for one attempt or connection, its load started.
    /// `authority`: what the target is called (the request's, or the key in explicit mode).
    public func pick(
        _ destination: LoopDestination, key: String, authority: String, avoiding failed: HostPort?, now: UInt64
    ) throws(ProxyError) -> ChosenEndpoint {
        let load: EndpointLoad
        switch destination.pick(now: now, avoiding: failed) {
        case .endpoint(let picked): load = picked
        case .none: throw ProxyError(.noEndpoints, "no endpoint to send to")
        case .allEjected: throw ProxyError(.circuitOpen, "every endpoint of \(key) is failing (failure accrual)")
        }
        load.started()
        // An endpoint with an identity runs a proxy: reached with mTLS when this proxy has an identity too.
        let identity = self.meshTLS == nil ? nil : load.endpoint.identity
        let target = TrafficTarget(endpoint: load.endpoint.address, authority: authority, identity: identity)
        return ChosenEndpoint(target: target, labels: load.endpoint.labels, load: load)
    }

    /// Why an endpoint with `identity` cannot be reached now (this proxy is not certified yet), if it cannot: it is
    /// never reached in plaintext instead.
    public func refusal(identity: String, endpoint: HostPort) -> ProxyError? {
        guard let mesh = self.meshTLS, mesh.current == nil else { return nil }
        return Self.notCertified(endpoint)
    }

    /// The TLS an endpoint is reached with: mTLS to its identity, or none for an endpoint without one.
    public func upstreamTLS(identity: String?, endpoint: HostPort, protocol alpn: MeshTLS.ALPN) throws(ProxyError) -> UpstreamTLS? {
        guard let identity, let mesh = self.meshTLS else { return nil }
        guard let credentials = mesh.current else { throw Self.notCertified(endpoint) }
        return UpstreamTLS(context: credentials.client(alpn), identity: identity)
    }

    static func notCertified(_ endpoint: HostPort) -> ProxyError {
        ProxyError(.notCertified, "this proxy has no certificate yet; mTLS to \(endpoint) must wait")
    }

    /// Opens the attempt's upstream: an HTTP/1.1 connection or an HTTP/2 stream, over mTLS to an endpoint with an
    /// identity.
    func open(
        _ target: TrafficTarget, http2: Bool, direction: TrafficDirection, tls: TLSLabel,
        completion: @escaping (Result<any ExchangeUpstream, ProxyError>) -> Void
    ) {
        let upstreamTLS: UpstreamTLS?
        do {
            upstreamTLS = try self.upstreamTLS(identity: target.identity, endpoint: target.endpoint, protocol: http2 ? .http2 : .http1)
        } catch {
            completion(.failure(error))
            return
        }
        self.upstreams.open(target, http2: http2, direction: direction, tls: tls, upstreamTLS: upstreamTLS, completion: completion)
    }
}

extension EndpointClient {
    /// The attempt's outcome, once: a failure counts against the endpoint (failure accrual; the next attempt avoids
    /// it), a success restores it.
    func settle(_ attempt: inout ExchangeAttempt, _ outcome: RouteOutcome, now: NIODeadline) {
        guard let load = attempt.endpoint?.load else { return }
        let failed = outcome.isFailure
        if failed { attempt.failed = load.endpoint.address }
        load.recordOutcome(failed: failed, now: Int64(truncatingIfNeeded: now.uptimeNanoseconds))
    }

    /// The exchange is over: the endpoint's load ends, and its latency goes into the EWMA.
    func finish(_ attempt: inout ExchangeAttempt, rttNanoseconds: UInt64, now: NIODeadline) {
        attempt.endpoint?.load?.finished(rttNanoseconds: rttNanoseconds, now: now.uptimeNanoseconds)
        attempt.endpoint?.load = nil
    }

    /// The attempt ended with nothing to learn from (cancelled, retried, timed out): its load ends.
    func abandon(_ attempt: inout ExchangeAttempt) {
        attempt.endpoint?.load?.abandoned()
        attempt.endpoint?.load = nil
    }

    /// A relayed connection to `load`'s endpoint was established after `rttNanoseconds`.
    public func connected(_ load: EndpointLoad, rttNanoseconds: UInt64, now: NIODeadline) {
        load.observe(rttNanoseconds: rttNanoseconds, now: now.uptimeNanoseconds)
    }

    /// A relayed connection to `load`'s endpoint closed.
    public func closed(_ load: EndpointLoad) {
        load.abandoned()
    }
}

@available(*, unavailable)
extension EndpointClient: Sendable {}
