import Logging
import NIOCertificateReloading
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The injector webhook's HTTPS server: `POST /inject` with an AdmissionReview, answered by `AdmissionReviewer`.
///
/// Its certificate comes from the files of the Secret `swiftlet-injector-tls`, re-read every 30 s, so a rotated
/// certificate is served without a restart. A connection may hold at most 4 MB of request and must send it within
/// 10 s: what a slow or hostile client can hold is bounded.
public struct InjectorServer: Service {
    let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    let reloader: TimedCertificateReloader
    let reviewer: AdmissionReviewer
    let logger: Logger

    public var port: Int { self.channel.channel.localAddress?.port ?? 0 }

    static let maximumBody = 4 << 20
    static let requestTimeout = TimeAmount.seconds(10)

    /// Binds the listener (so its port is known at once); `run` serves it.
    public static func bind(
        host: String, port: Int, certificate: String, key: String, reviewer: AdmissionReviewer, logger: Logger
    ) async throws -> InjectorServer {
        let reloader = try TimedCertificateReloader.makeReloaderValidatingSources(
            refreshInterval: .seconds(30),
            certificateSource: .init(location: .file(path: certificate), format: .pem),
            privateKeySource: .init(location: .file(path: key), format: .pem),
            logger: logger
        )
        var tls = try TLSConfiguration.makeServerConfiguration(certificateReloader: reloader)
        tls.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 128)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        return InjectorServer(channel: channel, reloader: reloader, reviewer: reviewer, logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.reloader.run() }
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

    /// Serves one connection's requests in turn until it closes, errs or overstays.
    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        // Each request must arrive whole within the timeout of the previous answer (or of the connection).
        let channel = connection.channel
        var deadline = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let request):
                        (head, body, tooLarge) = (request, [], false)
                    case .body(let buffer):
                        if body.count + buffer.readableBytes > Self.maximumBody {
                            tooLarge = true
                        } else {
                            body += buffer.readableBytesView
                        }
                    case .end:
                        guard let request = head else { continue }
                        let (status, text) = await self.respond(request, body: body, tooLarge: tooLarge)
                        var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(text.utf8.count))])
                        if !request.isKeepAlive || tooLarge { headers.add(name: "connection", value: "close") }
                        try await outbound.write(
                            .head(
                                HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
                            ))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
                        try await outbound.write(.end(nil))
                        if !request.isKeepAlive || tooLarge { return }
                        head = nil
                        deadline.cancel()
                        deadline = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
                    }
                }
            }
        } catch {
            self.logger.debug("injector connection ended", metadata: ["error": "\(error)"])
        }
    }

    func respond(_ request: HTTPRequestHead, body: [UInt8], tooLarge: Bool) async -> (Int, String) {
        func status(_ code: Int, _ message: String) -> (Int, String) {
            (code, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"\(message)\",\"code\":\(code)}")
        }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard path == "/inject" else { return status(404, "not found; the injector serves POST /inject") }
        guard request.method == .POST else { return status(405, "method not allowed; POST an AdmissionReview") }
        guard !tooLarge else { return status(413, "the request is larger than 4 MiB") }
        return await self.reviewer.review(body)
    }
}
