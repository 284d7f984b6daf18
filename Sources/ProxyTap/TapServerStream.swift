import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import ProxyGRPC

/// One HTTP/2 stream of the tap server: `swiftlet.tap.v1.Tap/Observe`, gRPC by hand. Reads the request, opens a tap
/// in the hub, and writes its events as they come — only while the connection is writable: a reader that falls
/// behind leaves events in the tap's bounded queue, where past its capacity they are dropped and counted, and the
/// proxy's traffic never waits for it. Ends with `grpc-status: 0` once every tapped request has ended.
public final class TapServerStream: ChannelInboundHandler {
    public typealias InboundIn = HTTP2Frame.FramePayload
    public typealias OutboundOut = HTTP2Frame.FramePayload

    public static let observePath = "/swiftlet.tap.v1.Tap/Observe"
    /// How long the first queued event waits for others before they are written together: one DATA frame and one
    /// write per batch instead of three per request keeps a tap of every request cheap for the proxy (bench/proxy
    /// --tap); a person watching a tap does not see 100 ms.
    static let batchInterval = TimeAmount.milliseconds(100)

    let hub: TapHub
    /// The client may tap (the tap service's identity, or loopback); else UNAUTHENTICATED.
    let authorized: Bool
    let logger: Logger
    private var deframer = GRPCMessageDeframer()
    private var phase = Phase.awaitingHeaders
    private var context: ChannelHandlerContext?

    enum Phase {
        case awaitingHeaders
        case awaitingRequest
        case streaming(TapStream)
        case done
    }

    public init(hub: TapHub, authorized: Bool, logger: Logger) {
        self.hub = hub
        self.authorized = authorized
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.stop()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.stop()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .headers(let headers):
            guard case .awaitingHeaders = self.phase else { return }
            guard headers.headers.first(name: ":path") == Self.observePath else {
                return self.finish(GRPCStatusError(.unimplemented, "only \(Self.observePath) is served here"), context: context)
            }
            guard self.authorized else {
                return self.finish(
                    GRPCStatusError(.unauthenticated, "tap is served to the tap service's identity and to loopback only"), context: context)
            }
            self.phase = .awaitingRequest
        case .data(let data):
            guard case .awaitingRequest = self.phase, case .byteBuffer(let bytes) = data.data else { return }
            self.deframer.append(bytes)
            let message: ByteBuffer?
            do {
                message = try self.deframer.next()
            } catch {
                return self.finish(error, context: context)
            }
            guard let message else { return }
            let request: TapObserveRequest
            do {
                request = try TapObserveRequest(decoding: message)
            } catch {
                return self.finish(GRPCStatusError(.invalidArgument, error.message), context: context)
            }
            self.start(request, context: context)
        case .rstStream:
            self.stop()
        default:
            break
        }
    }

    private func start(_ request: TapObserveRequest, context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let stream = self.hub.open(request) { loop.scheduleTask(in: Self.batchInterval) { bound.value.drain() } }
        self.phase = .streaming(stream)
        let headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
        context.writeAndFlush(Self.wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        self.logger.info("tap opened", metadata: ["limit": "\(request.limit)", "max_rps": "\(request.maxRPS)"])
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.drain() }
        context.fireChannelWritabilityChanged()
    }

    /// Writes what the tap queued, while the connection takes it; ends the stream when the tap is complete.
    func drain() {
        guard let context = self.context, case .streaming(let stream) = self.phase else { return }
        guard context.channel.isWritable else { return }
        let (events, complete) = stream.drain()
        if events.readableBytes > 0 {
            // Every queued event, framed as gRPC messages already, in one DATA frame.
            context.write(Self.wrapOutboundOut(.data(.init(data: .byteBuffer(events)))), promise: nil)
        }
        if complete {
            self.phase = .done
            stream.cancel()
            let trailers: HPACKHeaders = ["grpc-status": "0"]
            context.writeAndFlush(Self.wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        } else if events.readableBytes > 0 {
            context.flush()
        }
    }

    /// Answers with a gRPC error, trailers-only.
    private func finish(_ error: GRPCStatusError, context: ChannelHandlerContext) {
        self.phase = .done
        let headers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc", "grpc-status": String(error.code.rawValue),
            "grpc-message": Self.percentEncoded(error.message),
        ]
        context.writeAndFlush(Self.wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    }

    /// The reader is gone: the tap closes and takes nothing more.
    private func stop() {
        if case .streaming(let stream) = self.phase {
            stream.cancel()
            self.logger.info("tap closed", metadata: ["dropped": "\(stream.dropped)"])
        }
        self.phase = .done
    }

    /// `grpc-message` is percent-encoded (gRPC over HTTP/2: bytes outside 0x20–0x7E, and `%`).
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(width - self.count, 0)) + self
    }
}

@available(*, unavailable)
extension TapServerStream: Sendable {}
