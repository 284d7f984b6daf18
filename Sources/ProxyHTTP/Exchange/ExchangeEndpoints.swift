import NIOCore
import ProxyCore
import ProxyTransport

/// The downstream side of an exchange, as the exchange drives it: an HTTP/1.1 connection or an HTTP/2 stream.
/// Implemented by the codecs at the edge; nothing above them knows which.
protocol ExchangeDownstream: AnyObject {
    var isHTTP2: Bool { get }
    /// The response may be written without piling up in memory.
    var isWritable: Bool { get }
    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool)
    func writeResponseBody(_ bytes: ByteBuffer)
    func writeResponseEnd(_ trailers: HTTPFields?)
    func flushResponse()
    /// Back-pressure on the request: stop reading its body while the upstream cannot take it.
    func pauseRequest(_ paused: Bool)
    /// The exchange is done. `requestComplete` is false when its response went out before the request ended (an
    /// error, an early answer): HTTP/1 reads and drops the rest, HTTP/2 resets the stream's request side.
    func exchangeFinished(requestComplete: Bool)
    /// Too late for an error response: cut the downstream.
    func abortResponse()
    /// After a `101`: this connection and `upstream`'s become one byte relay.
    func switchToTunnel(with upstream: any ExchangeUpstream)
}

/// The upstream side of an exchange: a pooled HTTP/1.1 connection, or a stream on a multiplexed HTTP/2 connection.
protocol ExchangeUpstream: AnyObject {
    /// The connection served an exchange before (the server may have closed it meanwhile).
    var isReused: Bool { get }
    var isWritable: Bool { get }
    func attach(_ exchange: Exchange)
    func writeRequestHead(_ head: HTTPRequestHead, endStream: Bool)
    func writeRequestBody(_ bytes: ByteBuffer)
    func writeRequestEnd(_ trailers: HTTPFields?)
    func flushRequest()
    /// Back-pressure on the response: stop reading while the downstream cannot take it.
    func pauseResponse(_ paused: Bool)
    /// The exchange is done with it: back to the pool when `reusable`, else closed (HTTP/1) or reset (HTTP/2).
    func release(reusable: Bool)
    /// After a `101`: puts `glue` in its place, bytes read past the response first, and stops being HTTP (HTTP/1
    /// only). False if it cannot (the connection is gone).
    func joinTunnel(_ glue: GlueHandler) -> Bool
}
