import NIOCore

/// Sits above the TLS handler and gathers the small writes made between two flushes into one buffer, so that they
/// leave as one TLS record instead of one record each.
///
/// Why: NIOSSL turns every write into its own `SSL_write`, hence its own record (a header, a tag, a seal on this
/// side and an open and a copy on the other), and NIOHTTP2 writes a frame header and a frame payload as two writes.
/// A proxied request on the mTLS leg was two to four records each way; gathered, the responses of every stream that
/// finished in one loop iteration share one. Copying a few hundred bytes costs far less than a record. Copying also
/// hands the writer's buffer straight back, so NIOHTTP2 reuses its frame buffer instead of allocating one per frame.
///
/// Writes of `passThroughBytes` or more (a large body, a relayed stream) go on as they are, after what was gathered
/// before them: order is kept. A gathered buffer is written on when it would pass `recordBytes` (one full record).
public final class TLSRecordCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    /// The plaintext of one full TLS record.
    static let recordBytes = 16 * 1024
    static let passThroughBytes = 4 * 1024

    private var gathered: ByteBuffer?
    private var promise: EventLoopPromise<Void>?

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var bytes) = Self.unwrapOutboundIn(data), bytes.readableBytes < Self.passThroughBytes else {
            self.writeGathered(context: context)
            context.write(data, promise: promise)
            return
        }
        if let gathered = self.gathered, gathered.readableBytes + bytes.readableBytes > Self.recordBytes {
            self.writeGathered(context: context)
        }
        if self.gathered == nil {
            self.gathered = context.channel.allocator.buffer(capacity: Self.recordBytes)
        } else if self.gathered!.readableBytes == 0 {
            self.gathered!.clear()
        }
        self.gathered!.writeBuffer(&bytes)
        if let promise {
            // The gathered buffer is one write with one promise: the first one's; the others follow it.
            if let first = self.promise {
                first.futureResult.cascade(to: promise)
            } else {
                self.promise = promise
            }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        self.writeGathered(context: context)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // What was written before a close goes before it (a half-close after a last response).
        self.writeGathered(context: context)
        context.close(mode: mode, promise: promise)
    }

    /// Passes on what was gathered. The buffer is kept, marked read, for the next round: once the TLS handler has
    /// encrypted it (at the flush that follows) this handler holds the only reference again, and clearing it then
    /// allocates nothing. (Clearing it now, while the TLS handler still holds it, would copy it.)
    private func writeGathered(context: ChannelHandlerContext) {
        guard let gathered = self.gathered, gathered.readableBytes > 0 else { return }
        let promise = self.promise
        self.promise = nil
        self.gathered!.moveReaderIndex(forwardBy: gathered.readableBytes)
        context.write(Self.wrapOutboundOut(.byteBuffer(gathered)), promise: promise)
    }
}

@available(*, unavailable)
extension TLSRecordCoalescer: Sendable {}
