import NIOCore
import ProxyCore
import ProxyTransport

/// How an attempt reaches its endpoint: a pooled HTTP/1.1 connection, or a stream of a multiplexed HTTP/2 one,
/// over mTLS when `upstreamTLS` says so. `completion` runs on the loop, at once when a connection is ready.
///
/// The proxy's is `PooledUpstreams` (the loop's pools); a test gives a scripted one, so that an exchange and its
/// stages are driven without sockets.
protocol UpstreamOpener: AnyObject {
    func open(
        _ target: TrafficTarget, http2: Bool, direction: TrafficDirection, tls: TLSLabel, upstreamTLS: UpstreamTLS?,
        completion: @escaping (Result<any ExchangeUpstream, ProxyError>) -> Void
    )
}

/// The loop's connection pools as an `UpstreamOpener`.
final class PooledUpstreams: UpstreamOpener {
    let http1: HTTP1ConnectionPool
    let http2: HTTP2ConnectionPool

    init(http1: HTTP1ConnectionPool, http2: HTTP2ConnectionPool) {
        self.http1 = http1
        self.http2 = http2
    }

    func open(
        _ target: TrafficTarget, http2: Bool, direction: TrafficDirection, tls: TLSLabel, upstreamTLS: UpstreamTLS?,
        completion: @escaping (Result<any ExchangeUpstream, ProxyError>) -> Void
    ) {
        if http2 {
            self.http2.openStream(target.upstreamKey, direction: direction, tls: tls, upstreamTLS: upstreamTLS, completion: completion)
            return
        }
        if let idle = self.http1.takeIdle(target.upstreamKey) {
            completion(.success(idle))
            return
        }
        self.http1.connect(target.upstreamKey, direction: direction, tls: tls, upstreamTLS: upstreamTLS, completion: completion)
    }
}

@available(*, unavailable)
extension PooledUpstreams: Sendable {}
