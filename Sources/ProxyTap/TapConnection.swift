import NIOCore
import ProxyCore

/// An opaque TCP connection some tap took (`ObserveRequest.tcp`): its open event is sent when it is taken, its
/// close event — duration and bytes each way — when it ends.
public final class TapConnection: Sendable {
    let streams: [TapStream]
    let encoder: TapEventEncoder
    let id: TapEventEncoder.StreamID
    let opened: NIODeadline

    /// The taps that take this connection, or `nil` when none does (the usual case: no tap asks for TCP).
    public static func open(
        hub: TapHub, direction: TrafficDirection, source: HostPort?, destination: HostPort?, destinationLabels: [MetricLabel] = [],
        tls: TLSLabel, sni: String?, now: NIODeadline
    ) -> TapConnection? {
        guard hub.isActive else { return nil }
        let subject = TapSubject(
            direction: direction, source: source, destination: destination, destinationLabels: destinationLabels, http: nil)
        let streams = hub.open.filter {
            $0.request.tcp && $0.match.matches(subject) && $0.admit(now: Int64(truncatingIfNeeded: now.uptimeNanoseconds))
        }
        guard !streams.isEmpty else { return nil }
        let encoder = TapEventEncoder(.init(subject, tls: tls))
        let connection = TapConnection(streams: streams, encoder: encoder, id: hub.nextID(), opened: now)
        let event = encoder.tcpOpen(connection.id, sni: sni)
        for stream in streams { stream.emit(event) }
        return connection
    }

    private init(streams: [TapStream], encoder: TapEventEncoder, id: TapEventEncoder.StreamID, opened: NIODeadline) {
        self.streams = streams
        self.encoder = encoder
        self.id = id
        self.opened = opened
    }

    /// The connection ended: `received` bytes came from the client, `sent` went to it.
    public func close(now: NIODeadline, received: Int, sent: Int) {
        let nanoseconds = (now - self.opened).nanoseconds
        let event = self.encoder.tcpClose(self.id, nanoseconds: nanoseconds, bytesReceived: received, bytesSent: sent)
        for stream in self.streams { stream.emit(event, ending: true) }
    }
}

/// Counts a tapped opaque connection's bytes each way and reports its close. Added only to connections a tap took.
public final class TapConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let connection: TapConnection
    private var received = 0
    private var sent = 0
    private var closed = false

    public init(_ connection: TapConnection) {
        self.connection = connection
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += Self.unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.sent += Self.unwrapOutboundIn(data).readableBytes
        context.write(data, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.report(context)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.report(context)
    }

    private func report(_ context: ChannelHandlerContext) {
        guard !self.closed else { return }
        self.closed = true
        self.connection.close(now: context.eventLoop.now, received: self.received, sent: self.sent)
    }
}

@available(*, unavailable)
extension TapConnectionHandler: Sendable {}
