import NIOHTTP1
import ProxyCore

/// The downstream side of an exchange, as the upstream handler sees it.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamFailed(_ error: ProxyError)
    func upstreamBecameWritable()
    /// Whether the downstream can take more response bytes; the upstream stops reading while it cannot.
    var downstreamWritable: Bool { get }
}
