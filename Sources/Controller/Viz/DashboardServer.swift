import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The dashboard (`swiftlet controller --dashboard ADDR`; `swiftlet viz dashboard` opens it): its pages and the JSON
/// API they read (`DashboardAPI`), over HTTP/1.1 on loopback.
///
/// DNS rebinding is refused as Linkerd's dashboard refuses it: a page of another site whose name was made to resolve
/// to 127.0.0.1 sends that name in `Host`, and only the loopback names (and those given) are answered. Pages are
/// served with a content security policy that lets them load their own script and nothing else.
public struct DashboardServer: Service {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let channel: NIOAsyncChannel<Connection, Never>
    let api: DashboardAPI
    /// The controller's tap service, for the pages' live calls (`DashboardTap`); nil: none.
    let tap: TapService?
    /// Host names answered besides the loopback ones (a port-forward's, a proxy's).
    let hosts: Set<String>
    let logger: Logger

    public var port: Int { self.channel.channel.localAddress?.port ?? 0 }

    /// A request must arrive whole within this (its body is not read: the dashboard takes GETs only).
    static let requestTimeout = TimeAmount.seconds(10)

    public static func bind(
        host: String, port: Int, api: DashboardAPI, tap: TapService? = nil, hosts: Set<String> = [], logger: Logger
    ) async throws
        -> DashboardServer
    {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Connection(wrappingChannelSynchronously: child)
                }
            }
        return DashboardServer(channel: channel, api: api, tap: tap, hosts: hosts, logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await self.channel.executeThenClose { inbound in
                    for try await connection in inbound { group.addTask { await self.serve(connection) } }
                }
            }
        } onGracefulShutdown: {
            self.channel.channel.close(promise: nil)
        }
    }

    /// Whether `host` (the request's `Host`, with or without its port) names this server as a browser on this
    /// machine would: `localhost`, `127.0.0.1`, `[::1]`, or one of `allowed`.
    public static func isAllowed(host: String?, allowed: Set<String> = []) -> Bool {
        guard let host, !host.isEmpty else { return false }
        var name = Substring(host)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let rest = name[name.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber) && rest.count > 1) else { return false }
            name = name[...close]
        } else if let colon = name.lastIndex(of: ":") {
            let port = name[name.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isNumber) else { return false }
            name = name[..<colon]
        }
        let lower = name.lowercased()
        return ["localhost", "127.0.0.1", "[::1]"].contains(lower) || allowed.contains(lower)
    }

    func serve(_ connection: Connection) async {
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await part in inbound {
                    guard case .head(let head) = part else { continue }
                    deadline.cancel()
                    if head.method == .GET, head.uri.hasPrefix("/api/v1/tap?") || head.uri == "/api/v1/tap",
                        Self.isAllowed(host: head.headers.first(name: "host"), allowed: self.hosts)
                    {
                        try await self.stream(head, channel: channel, outbound)
                        break
                    }
                    let (status, type, body) = await self.respond(head)
                    var headers = HTTPHeaders([
                        ("content-type", type), ("content-length", String(body.utf8.count)), ("cache-control", "no-store"),
                        ("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                        ("content-security-policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
                    ])
                    if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                    try await outbound.write(.end(nil))
                    if !head.isKeepAlive { break }
                }
            }
        } catch {
            self.logger.debug("dashboard connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Live calls as server-sent events (`DashboardTap`) until the page goes, the tap ends, or its time is up.
    func stream(_ head: HTTPRequestHead, channel: Channel, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let query = HTTPTarget(head.uri).query
        let session: TapService.Session
        do throws(TapError) {
            guard let tap = self.tap else { throw TapError(.notTappable, "this controller runs no tap service") }
            session = try tap.prepare(try DashboardTap.request(query))
        } catch {
            let body = DashboardAPI.error(error.message) + "\n"
            let headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(body.utf8.count))])
            try await outbound.write(
                .head(HTTPResponseHead(version: head.version, status: .init(statusCode: error.status), headers: headers)))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
            try await outbound.write(.end(nil))
            return
        }
        let headers = HTTPHeaders([
            ("content-type", "text/event-stream"), ("cache-control", "no-store"), ("x-content-type-options", "nosniff"),
        ])
        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers)))
        guard let tap = self.tap else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The page leaving closes the connection; that, the tap ending, or the time limit ends the stream.
            group.addTask { try? await channel.closeFuture.get() }
            group.addTask { try? await Task.sleep(for: .seconds(DashboardTap.maximumSeconds)) }
            group.addTask {
                try await tap.run(session) { event in
                    guard let message = DashboardTap.message(event) else { return }
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: message))))
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
        try? await outbound.write(.end(nil))
    }

    func respond(_ head: HTTPRequestHead) async -> (HTTPResponseStatus, String, String) {
        guard Self.isAllowed(host: head.headers.first(name: "host"), allowed: self.hosts) else {
            let host = head.headers.first(name: "host") ?? ""
            return (
                .badRequest, "text/plain; charset=utf-8",
                "It appears that you are trying to reach this service with a host of \"\(host)\"; only localhost, 127.0.0.1 and [::1] "
                    + "are answered (DNS rebinding), and this request has been denied for security reasons.\n"
            )
        }
        guard head.method == .GET else { return (.methodNotAllowed, "text/plain; charset=utf-8", "method not allowed\n") }
        let target = HTTPTarget(head.uri)
        let path = target.path
        if let asset = DashboardAssets.asset(path) { return (.ok, asset.type, asset.body) }
        guard path.hasPrefix("/api/") else { return (.notFound, "text/plain; charset=utf-8", "not found\n") }
        let answer = await self.api.answer(path: path, query: target.query)
        return (HTTPResponseStatus(statusCode: answer.status), "application/json", answer.body + "\n")
    }
}
