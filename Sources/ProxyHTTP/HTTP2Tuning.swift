import NIOHTTP2

/// HTTP/2 settings shared by the proxy's server and client sides.
///
/// Windows larger than the protocol's 64 KiB default let one stream move a bulk body at loopback speed, while
/// the stream channels' read gating still applies back-pressure end to end.
public enum HTTP2Tuning {
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

    public static let stream: NIOHTTP2Handler.StreamConfiguration = {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = 1024 * 1024
        configuration.outboundBufferSizeHighWatermark = 64 * 1024
        configuration.outboundBufferSizeLowWatermark = 16 * 1024
        return configuration
    }()
}
