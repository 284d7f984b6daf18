import NIOCore
import ProxyCore
import ProxyTransport

/// The downstream of a mirrored copy of a request: nobody. The mirror's answer is read and dropped, its failures
/// are nobody's; it never pauses the original request (what it cannot take is dropped with it, see
/// `Exchange.startMirror`).
final class MirrorDownstream: ExchangeDownstream {
    var isHTTP2: Bool { false }
    var isWritable: Bool { true }
    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {}
    func writeResponseBody(_ bytes: ByteBuffer) {}
    func writeResponseEnd(_ trailers: HTTPFields?) {}
    func flushResponse() {}
    func pauseRequest(_ paused: Bool) {}
    func exchangeFinished(requestComplete: Bool) {}
    func abortResponse() {}
    func switchToTunnel(with upstream: any ExchangeUpstream) { upstream.release(reusable: false) }
}

@available(*, unavailable)
extension MirrorDownstream: Sendable {}
