import NIOHTTP2

/// The connection-level receive window of the proxy's HTTP/2 connections (server and client sides alike): opened
/// to `HTTP2Tuning.connectionWindow` when the connection starts (it begins at 64 KiB whatever the settings say), and
/// given back as it is used, as NIO's multiplexer does. Streams' windows, not this one, are the back-pressure.
enum HTTP2ConnectionWindow {
    static let opening = HTTP2Frame(
        streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: HTTP2Tuning.connectionWindow - 65_535))

    /// The `WINDOW_UPDATE` due once the window shrank to what `event` says, if it is down to half.
    static func update(after event: NIOHTTP2WindowUpdatedEvent) -> HTTP2Frame? {
        guard event.streamID == .rootStream, let size = event.inboundWindowSize, size <= HTTP2Tuning.connectionWindow / 2 else {
            return nil
        }
        return HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: HTTP2Tuning.connectionWindow - size))
    }
}
