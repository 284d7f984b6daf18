import NIOCore
import NIOHTTP2

/// What both HTTP/2 edges (`HTTP2ServerHandler`, `HTTP2ClientHandler`) do with their connection, in one place:
/// frames written through it, one flush per loop iteration however many streams wrote (`FlushBatcher`), and the
/// connection's receive window opened when it starts and given back as it is used (`HTTP2ConnectionWindow`).
final class HTTP2FrameWriter: Flushable {
    private(set) var context: ChannelHandlerContext?
    let flusher: FlushBatcher
    private var flushRequested = false
    private var windowOpened = false

    init(flusher: FlushBatcher) {
        self.flusher = flusher
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var eventLoop: EventLoop? { self.context?.eventLoop }

    func attach(_ context: ChannelHandlerContext) {
        self.context = context
    }

    func detach() {
        self.context = nil
    }

    /// The connection is active: its window is opened, once. True when it was opened now.
    func connectionActive() -> Bool {
        guard !self.windowOpened, let context = self.context else { return false }
        self.windowOpened = true
        context.writeAndFlush(NIOAny(HTTP2ConnectionWindow.opening), promise: nil)
        return true
    }

    /// NIO's handler reported a window change: the connection's window is given back once down to half.
    func windowUpdated(_ event: NIOHTTP2WindowUpdatedEvent) {
        if let update = HTTP2ConnectionWindow.update(after: event) { self.context?.writeAndFlush(NIOAny(update), promise: nil) }
    }

    func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>? = nil) {
        self.context?.write(NIOAny(frame), promise: promise)
    }

    /// Writes `frame` and flushes now (a connection-level frame: `GOAWAY`).
    func writeAndFlush(_ frame: HTTP2Frame) {
        self.context?.writeAndFlush(NIOAny(frame), promise: nil)
    }

    /// Flushes at the end of this loop iteration, once for every stream that wrote.
    func flush() {
        guard !self.flushRequested, self.context != nil else { return }
        self.flushRequested = true
        self.flusher.enqueue(self)
    }

    func flushNow() {
        self.flushRequested = false
        self.context?.flush()
    }
}

@available(*, unavailable)
extension HTTP2FrameWriter: Sendable {}
