import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SwiftProtobuf
import SwiftletAPI
import X509

/// The tap API over HTTP/1.1, Linkerd's shape: `POST` a `TapByResourceRequest` (protobuf) to the target's path
/// (`TapAPIPath`), and read back a stream of `TapByResourceEvent`s, each preceded by its length as a varint, until
/// the caller closes the connection. Refusals are a Kubernetes `Status` (JSON) with the HTTP status.
///
/// In local mode it listens on loopback and answers loopback only: whoever can reach it there is the operator of the
/// machine, as with the controller's admin endpoints. On Kubernetes (`aggregated`) it is an aggregated API: TLS, the
/// API server's front proxy as the only client, and each tap authorized for the user it names (`TapAggregatedAPI`).
public struct TapAPIServer: Service {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let channel: NIOAsyncChannel<Connection, Never>
    let service: TapService
    let aggregated: TapAggregatedAPI?
    let logger: Logger

    public var port: Int { self.channel.channel.localAddress?.port ?? 0 }

    /// A request body larger than this is refused; a tap request is a few hundred bytes.
    static let maximumBody = 64 << 10
    /// The request must arrive whole within this.
    static let requestTimeout = TimeAmount.seconds(10)
    public static let contentType = "application/vnd.swiftlet.tap-events+protobuf; delimiter=varint"

    public static func bind(
        host: String, port: Int, service: TapService, aggregated: TapAggregatedAPI? = nil, logger: Logger
    ) async throws -> TapAPIServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    if let aggregated {
                        guard let context = aggregated.context else {
                            throw TapError(.unauthenticated, "the front proxy's configuration is not read yet")
                        }
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Connection(wrappingChannelSynchronously: child)
                }
            }
        return TapAPIServer(channel: channel, service: service, aggregated: aggregated, logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                if let aggregated = self.aggregated { group.addTask { try await aggregated.run() } }
                try await self.channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.channel.channel.close(promise: nil)
        }
    }

    /// One connection, one tap: the request, then the stream until either side stops.
    func serve(_ connection: Connection) async {
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
        let loopback = channel.remoteAddress?.isLoopbackClient ?? false
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let request): head = request
                    case .body(let buffer):
                        if body.count + buffer.readableBytes > Self.maximumBody {
                            tooLarge = true
                        } else {
                            body += buffer.readableBytesView
                        }
                    case .end: break
                    }
                    if case .end = part { break }
                }
                deadline.cancel()
                guard let head else { return }
                let session: TapService.Session
                do throws(TapError) {
                    let user = try await self.authenticate(head, channel: channel, loopback: loopback)
                    if head.method == .GET, let document = Self.discovery(head.uri) {
                        try? await Self.answer(document, version: head.version, outbound)
                        return
                    }
                    session = try await self.prepare(head, body: body, tooLarge: tooLarge, user: user)
                } catch {
                    try await Self.refuse(error, version: head.version, outbound)
                    return
                }
                self.logger.info(
                    "tap started", metadata: ["path": "\(head.uri)", "pods": "\(session.pods.map(\.name).joined(separator: ","))"])
                var headers = HTTPHeaders([("content-type", Self.contentType), ("cache-control", "no-cache")])
                headers.add(name: "x-content-type-options", value: "nosniff")
                try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers)))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // The caller closing its side ends the tap, even while nothing is tapped.
                    group.addTask { try? await channel.closeFuture.get() }
                    group.addTask {
                        try await self.service.run(session) { event in
                            try await outbound.write(.body(.byteBuffer(try Self.frame(event, allocator: channel.allocator))))
                        }
                        try await outbound.write(.end(nil))
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            self.logger.debug("tap connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Who asks: on Kubernetes the user the front proxy names (its certificate checked first); locally, loopback only.
    func authenticate(_ head: HTTPRequestHead, channel: any Channel, loopback: Bool) async throws(TapError) -> TapUser? {
        guard let aggregated = self.aggregated else {
            guard loopback else { throw TapError(.forbidden, "the tap API answers this host only") }
            return nil
        }
        return try aggregated.user(commonName: await Self.commonName(channel), headers: head.headers)
    }

    /// The common name of the client's certificate (verified by the handshake against the front proxy's CA).
    static func commonName(_ channel: any Channel) async -> String? {
        let der = try? await channel.eventLoop.submit { () -> [UInt8]? in
            try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate?.toDERBytes()
        }.get()
        guard let der = der ?? nil, let certificate = try? Certificate(derEncoded: der) else { return nil }
        return certificate.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
    }

    func prepare(_ head: HTTPRequestHead, body: [UInt8], tooLarge: Bool, user: TapUser?) async throws(TapError) -> TapService.Session {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard let target = TapAPIPath.target(path) else {
            throw TapError(.notFound, "not a tap path; POST to \(TapAPIPath.prefix)/watch/namespaces/{namespace}[/{resource}[/{name}]]/tap")
        }
        guard head.method == .POST else {
            throw TapError(.invalidRequest, "method \(head.method) not allowed; POST a TapByResourceRequest")
        }
        guard !tooLarge else { throw TapError(.invalidRequest, "the request is larger than 64 KiB") }
        var request: Swiftlet_Tap_V1_TapByResourceRequest
        do {
            request = try Swiftlet_Tap_V1_TapByResourceRequest(serializedBytes: body)
        } catch {
            throw TapError(.invalidRequest, "the body is not a TapByResourceRequest: \(error)")
        }
        if !request.hasTarget { request.target = target }
        guard request.target == target || TapAPIPath.target(TapAPIPath.path(for: request.target)) == target else {
            throw TapError(.invalidRequest, "the body's target does not match the path's")
        }
        if let user, let aggregated = self.aggregated {
            try await aggregated.authorize(user, target)
        }
        return try self.service.prepare(request)
    }

    /// The API's discovery documents, which the API server reads to list the group and its resources (and to
    /// decide whether the APIService is available): `nil` for any other path.
    static func discovery(_ uri: String) -> String? {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let groupVersion = "\(TapAPIPath.group)/\(TapAPIPath.version)"
        switch path {
        case "/apis/\(TapAPIPath.group)", "/apis/\(TapAPIPath.group)/":
            let version = #"{"groupVersion":"\#(groupVersion)","version":"\#(TapAPIPath.version)"}"#
            return #"{"kind":"APIGroup","apiVersion":"v1","name":"\#(TapAPIPath.group)","#
                + #""versions":[\#(version)],"preferredVersion":\#(version)}"#
        case TapAPIPath.prefix, TapAPIPath.prefix + "/":
            let resources = TapResourceKind.targets.flatMap { kind in
                let namespaced = kind != .namespace
                return [kind.plural, kind.plural + "/tap"].map {
                    #"{"name":"\#($0)","singularName":"","namespaced":\#(namespaced),"kind":"Tap","verbs":["watch"]}"#
                }
            }
            let list = resources.joined(separator: ",")
            return #"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"\#(groupVersion)","resources":[\#(list)]}"#
        default:
            return nil
        }
    }

    static func answer(_ json: String, version: HTTPVersion, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws
    {
        let headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(json.utf8.count))])
        try await outbound.write(.head(HTTPResponseHead(version: version, status: .ok, headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: json))))
        try await outbound.write(.end(nil))
    }

    /// `event` as the stream carries it: its length (a varint), then its bytes.
    static func frame(_ event: Swiftlet_Tap_V1_TapByResourceEvent, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let bytes: [UInt8] = try event.serializedBytes()
        var buffer = allocator.buffer(capacity: bytes.count + 5)
        var length = UInt64(bytes.count)
        while length >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: length) | 0x80)
            length >>= 7
        }
        buffer.writeInteger(UInt8(length))
        buffer.writeBytes(bytes)
        return buffer
    }

    static func refuse(_ error: TapError, version: HTTPVersion, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>)
        async throws
    {
        let reason: String =
            switch error.code {
            case .invalidRequest, .notTappable: "BadRequest"
            case .notFound: "NotFound"
            case .forbidden: "Forbidden"
            case .unauthenticated: "Unauthorized"
            }
        let message = error.message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let text =
            #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","# + #""message":"\#(message)","reason":"\#(reason)","#
            + #""code":\#(error.status)}"#
        let headers = HTTPHeaders([
            ("content-type", "application/json"), ("content-length", String(text.utf8.count)), ("connection", "close"),
        ])
        try await outbound.write(
            .head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: error.status), headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
        try await outbound.write(.end(nil))
    }
}
