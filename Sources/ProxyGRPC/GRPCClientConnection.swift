import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// A gRPC client connection over NIOHTTP2: all the proxy needs to call the controller (a unary `Certify`, a
/// bidirectional `Watch`), without a gRPC runtime. One HTTP/2 connection; each call is a stream on it.
///
/// Used through `withConnection`, which closes the connection when the body returns, so no connection outlives
/// the task that made it.
public struct GRPCClientConnection: Sendable {
    /// Where the controller is and how to trust it.
    public struct Target: Sendable {
        public var host: String
        public var port: Int
        /// TLS (with a client certificate in the context for mTLS); `nil` speaks plaintext.
        public var tls: NIOSSLContext?
        /// The name the server's certificate must carry (verified by the TLS context's full verification), also
        /// sent as SNI and as `:authority`.
        public var serverName: String?

        public init(host: String, port: Int, tls: NIOSSLContext? = nil, serverName: String? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
            self.serverName = serverName
        }

        var authority: String { self.serverName ?? "\(self.host):\(self.port)" }
    }

    let channel: Channel
    let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
    let target: Target

    /// Connects (and completes the TLS handshake, so a refusal is reported with its reason), runs `body`, closes.
    public static func withConnection<Result: Sendable>(
        to target: Target, group: EventLoopGroup, connectTimeout: TimeAmount = .seconds(5),
        _ body: (GRPCClientConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await Self.connect(to: target, group: group, connectTimeout: connectTimeout)
        do {
            let result = try await body(connection)
            try? await connection.channel.close()
            return result
        } catch {
            try? await connection.channel.close()
            throw error
        }
    }

    static func connect(to target: Target, group: EventLoopGroup, connectTimeout: TimeAmount) async throws -> GRPCClientConnection {
        let (channel, multiplexer, handshake): (Channel, NIOHTTP2Handler.AsyncStreamMultiplexer<Void>, EventLoopFuture<Void>?)
        do {
            (channel, multiplexer, handshake) = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        var handshake: EventLoopFuture<Void>? = nil
                        if let tls = target.tls {
                            try operations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: target.serverName))
                            let waiter = TLSHandshakeWaiter(promise: channel.eventLoop.makePromise())
                            handshake = waiter.promise.futureResult
                            try operations.addHandler(waiter)
                        }
                        let multiplexer = try operations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                            // The server opens no streams to a client (no push).
                            stream.close()
                        }
                        return (channel, multiplexer, handshake)
                    }
                }
        } catch {
            throw GRPCStatusError(.unavailable, "cannot connect to \(target.host):\(target.port): \(error)")
        }
        if let handshake {
            do {
                try await handshake.get()
            } catch {
                try? await channel.close()
                throw GRPCStatusError(.unavailable, "TLS with \(target.authority) failed: \(error)")
            }
        }
        return GRPCClientConnection(channel: channel, multiplexer: multiplexer, target: target)
    }

    /// Whether the connection can still carry calls.
    public var isActive: Bool { self.channel.isActive }

    /// One request, one response. `timeout` ends the call with `deadlineExceeded` (and tells the server by
    /// `grpc-timeout`).
    public func unary(path: String, request: ByteBuffer, timeout: TimeAmount) async throws -> ByteBuffer {
        try await self.call(path: path, timeout: timeout) { requests, responses in
            try await requests.send(request, last: true)
            guard let response = try await responses.next() else {
                throw GRPCStatusError(.internalError, "the server answered \(path) with no message")
            }
            guard try await responses.next() == nil else {
                throw GRPCStatusError(.internalError, "the server answered the unary \(path) with more than one message")
            }
            return response
        }
    }

    /// A call of any shape: `body` sends requests and reads responses, and the stream is closed when it returns.
    public func call<Result: Sendable>(
        path: String, timeout: TimeAmount? = nil,
        _ body: (GRPCRequestWriter, inout GRPCResponseReader) async throws -> Result
    ) async throws -> Result {
        let (stream, streamChannel) = try await self.multiplexer.openStream { channel in
            channel.eventLoop.makeCompletedFuture {
                (try NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>(wrappingChannelSynchronously: channel), channel)
            }
        }
        var deadline: Scheduled<Void>? = nil
        if let timeout {
            deadline = streamChannel.eventLoop.scheduleTask(in: timeout) { streamChannel.close(promise: nil) }
        }
        defer { deadline?.cancel() }
        do {
            return try await stream.executeThenClose { inbound, outbound in
                var headers = HPACKHeaders()
                headers.add(name: ":method", value: "POST")
                headers.add(name: ":scheme", value: self.target.tls == nil ? "http" : "https")
                headers.add(name: ":path", value: path)
                headers.add(name: ":authority", value: self.target.authority)
                headers.add(name: "content-type", value: "application/grpc")
                headers.add(name: "te", value: "trailers")
                if let timeout { headers.add(name: "grpc-timeout", value: "\(max(timeout.nanoseconds / 1_000_000, 1))m") }
                try await outbound.write(.headers(.init(headers: headers)))
                var reader = GRPCResponseReader(inbound.makeAsyncIterator(), path: path)
                return try await body(GRPCRequestWriter(outbound: outbound, allocator: self.channel.allocator), &reader)
            }
        } catch let error as GRPCStatusError {
            throw error
        } catch {
            if let timeout, deadline != nil, !streamChannel.isActive, error is ChannelError || error is NIOHTTP2Errors.StreamClosed {
                throw GRPCStatusError(.deadlineExceeded, "\(path) took longer than \(timeout.nanoseconds / 1_000_000) ms")
            }
            throw GRPCStatusError(.unavailable, "\(path) failed: \(error)")
        }
    }
}

/// Sends a call's request messages.
public struct GRPCRequestWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>
    let allocator: ByteBufferAllocator

    /// Sends one message; `last` ends the request side of the call.
    public func send(_ message: ByteBuffer, last: Bool = false) async throws {
        let framed = GRPCMessageDeframer.frame(message, allocator: self.allocator)
        try await self.outbound.write(.data(.init(data: .byteBuffer(framed), endStream: last)))
    }

    /// Ends the request side of the call without a message.
    public func finish() async throws {
        try await self.outbound.write(.data(.init(data: .byteBuffer(self.allocator.buffer(capacity: 0)), endStream: true)))
    }
}

/// Reads a call's response messages, then its status: `next()` gives each message, `nil` once the call ended with
/// OK, and throws the status otherwise.
public struct GRPCResponseReader {
    var frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator
    let path: String
    var deframer = GRPCMessageDeframer()
    var sawHeaders = false
    var finished = false

    init(_ frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator, path: String) {
        self.frames = frames
        self.path = path
    }

    public mutating func next() async throws -> ByteBuffer? {
        while true {
            if let message = try self.deframer.next() { return message }
            if self.finished { return nil }
            guard let frame = try await self.frames.next() else {
                throw GRPCStatusError(.unavailable, "the stream of \(self.path) ended without a status")
            }
            switch frame {
            case .headers(let headers):
                try self.received(headers.headers, endStream: headers.endStream)
            case .data(let data):
                guard self.sawHeaders, case .byteBuffer(let bytes) = data.data else {
                    throw GRPCStatusError(.internalError, "\(self.path): a message before the response headers")
                }
                self.deframer.append(bytes)
                if data.endStream {
                    throw GRPCStatusError(.internalError, "\(self.path): the response ended without trailers")
                }
            case .rstStream(let code):
                throw GRPCStatusError(.unavailable, "\(self.path): the server reset the stream (\(code))")
            default:
                continue
            }
        }
    }

    private mutating func received(_ headers: HPACKHeaders, endStream: Bool) throws {
        if !self.sawHeaders {
            self.sawHeaders = true
            let status = headers.first(name: ":status") ?? ""
            guard status == "200" else {
                throw GRPCStatusError(
                    .unavailable, "\(self.path): the server answered HTTP \(status.isEmpty ? "without a status" : status)")
            }
            // A "trailers-only" response carries its status in the headers.
            if endStream || headers.first(name: "grpc-status") != nil { try self.finish(headers) }
            return
        }
        try self.finish(headers)
    }

    private mutating func finish(_ trailers: HPACKHeaders) throws {
        self.finished = true
        guard let text = trailers.first(name: "grpc-status"), let status = Int(text) else {
            throw GRPCStatusError(.internalError, "\(self.path): the response has no grpc-status")
        }
        guard status == 0 else {
            let message = trailers.first(name: "grpc-message").map(Self.percentDecoded) ?? ""
            throw GRPCStatusError(GRPCStatusError.Code(rawValue: status), message.isEmpty ? "\(self.path) failed" : message)
        }
        guard self.deframer.isEmpty else {
            throw GRPCStatusError(.internalError, "\(self.path): the response ended in the middle of a message")
        }
    }

    /// `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses").
    static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Completes its promise when the TLS handshake is done, or fails it with the handshake's error, so a caller
/// learns why a controller was refused instead of seeing a closed stream.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            self.promise.succeed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.ioOnClosedChannel)
    }
}

@available(*, unavailable)
extension TLSHandshakeWaiter: Sendable {}
