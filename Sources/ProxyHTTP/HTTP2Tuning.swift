import NIOHTTP2

/// HTTP/2 settings shared by the proxy's server and client sides.
///
/// Windows larger than the protocol's 64 KiB default let one stream move a bulk body at loopback speed, while
/// the stream channels' read gating still applies back-pressure end to end.
public enum HTTP2Tuning {
    /// The connection-level receive window the proxy keeps open (given back as it is used).
    public static let connectionWindow = 4 * 1024 * 1024
    /// Each stream's receive window (our `SETTINGS_INITIAL_WINDOW_SIZE`), given back as the stream's bytes move on.
    public static let streamWindow = 1024 * 1024

    public static let connection: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.targetWindowSize = 4 * 1024 * 1024
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 * 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: 1024 * 1024),
        ]
        return configuration
    }()

    /// Upstream connections skip NIO's header-block validation: what the proxy sends was validated when it arrived,
    /// and what an upstream answers is validated where it matters, by the server side's codec on the way to an
    /// HTTP/2 client and by the HTTP/1 writer (no CR, LF or NUL in a field) on the way to an HTTP/1 one.
    public static let upstreamConnection: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = Self.connection
        configuration.headerBlockValidation = .disabled
        return configuration
    }()

    public static let stream: NIOHTTP2Handler.StreamConfiguration = {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = 1024 * 1024
        configuration.outboundBufferSizeHighWatermark = 64 * 1024
        configuration.outboundBufferSizeLowWatermark = 16 * 1024
        return configuration
    }()
}
