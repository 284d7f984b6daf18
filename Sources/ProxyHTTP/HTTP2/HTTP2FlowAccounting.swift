import NIOCore
import NIOHTTP2

/// Flow control of one forwarded HTTP/2 stream, both ways, for handlers that see frames (no stream channels).
///
/// Receiving: the peer may send up to the stream's window; the proxy gives the window back (`WINDOW_UPDATE`) as
/// the bytes it forwarded leave, in batches of half the window, and holds it back while the other side of the
/// exchange cannot take more. That is the back-pressure: a slow reader on one side stops the sender on the other.
///
/// Sending: frames written wait in the HTTP/2 handler while the peer's window is closed. The stream counts bytes
/// written and not yet confirmed sent; past `highWatermark` it is not writable. Only a frame that crosses
/// `confirmEvery` carries a promise (its completion confirms everything written before it), so small exchanges
/// allocate nothing for this.
struct HTTP2FlowAccounting {
    static let confirmEvery = 32 * 1024
    static let highWatermark = 64 * 1024

    /// Received bytes not yet given back to the peer.
    var consumed = 0
    /// The other side is full: give nothing back until it drains.
    var receivePaused = false
    /// Written bytes since the last confirmed point, and whether a promise is out.
    var unconfirmed = 0
    var confirming = false

    /// Records `bytes` received; returns the window to give back now, if any.
    mutating func received(_ bytes: Int, window: Int) -> Int? {
        self.consumed += bytes
        return self.creditDue(window: window)
    }

    mutating func creditDue(window: Int) -> Int? {
        guard !self.receivePaused, self.consumed >= window / 2, self.consumed > 0 else { return nil }
        defer { self.consumed = 0 }
        return self.consumed
    }

    /// Records `bytes` about to be written; returns whether this write should carry a confirming promise.
    mutating func writing(_ bytes: Int) -> Bool {
        self.unconfirmed += bytes
        guard !self.confirming, self.unconfirmed >= Self.confirmEvery else { return false }
        self.confirming = true
        return true
    }

    /// The promised write went out: everything up to `upTo` bytes is confirmed.
    mutating func confirmed(_ upTo: Int) {
        self.confirming = false
        self.unconfirmed = max(self.unconfirmed - upTo, 0)
    }

    var isBelowWatermark: Bool { self.unconfirmed < Self.highWatermark }
}

extension HTTP2Frame.FramePayload.Data {
    /// The bytes the frame takes from the flow-control windows: data and padding.
    var flowControlledLength: Int {
        self.data.readableBytes + (self.paddingBytes.map { $0 + 1 } ?? 0)
    }
}
