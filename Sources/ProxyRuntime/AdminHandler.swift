import MeshModel
import NIOCore
import NIOHTTP1
import ProxyCore

/// The admin endpoints: `/metrics`, `/ready`, `/live`, `/env.json` and `POST /shutdown` (loopback clients only).
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Shared: Sendable {
        let loops: LoopContextTable
        let readiness: Readiness
        let environment: [(name: String, value: String)]
        let requestShutdown: @Sendable () -> Void
        /// Families kept outside the loops' shards (the identity's).
        var extraMetrics: @Sendable () -> String = { "" }
    }

    private let shared: Shared
    private var request: NIOHTTP1.HTTPRequestHead?

    init(shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            self.route(head, context: context)
        }
    }

    private func route(_ head: NIOHTTP1.HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch (head.method, path) {
        case (.GET, "/metrics"):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.shared.loops.snapshot(on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let snapshot):
                    var text = ""
                    text.reserveCapacity(16 * 1024)
                    snapshot.render(into: &text)
                    ProcessMetrics.render(into: &text)
                    text += handler.shared.extraMetrics()
                    text += "# HELP proxy_build_info Proxy build info.\n# TYPE proxy_build_info gauge\n"
                    text += "proxy_build_info{version=\"\(BuildInfo.version)\",vendor=\"swiftlet\"} 1\n"
                    handler.respond(.ok, text, contentType: "text/plain; version=0.0.4", head: head, context: context)
                case .failure(let error):
                    handler.respond(.internalServerError, "metrics unavailable: \(error)\n", head: head, context: context)
                }
            }
        case (.GET, "/ready"):
            if self.shared.readiness.isReady {
                self.respond(.ok, "ready\n", head: head, context: context)
            } else {
                self.respond(.serviceUnavailable, self.shared.readiness.reason + "\n", head: head, context: context)
            }
        case (.GET, "/live"):
            self.respond(.ok, "live\n", head: head, context: context)
        case (.GET, "/env.json"):
            let json = JSONText.object(self.shared.environment.map { ($0.name, $0.value) })
            self.respond(.ok, json, contentType: "application/json", head: head, context: context)
        case (.POST, "/shutdown"):
            guard context.channel.remoteAddress?.isLoopback ?? false else {
                self.respond(.forbidden, "shutdown is only accepted from localhost\n", head: head, context: context)
                return
            }
            self.respond(.ok, "shutdown\n", head: head, context: context)
            self.shared.requestShutdown()
        case (_, "/shutdown"), (_, "/metrics"), (_, "/ready"), (_, "/live"), (_, "/env.json"):
            self.respond(.methodNotAllowed, "method not allowed\n", head: head, context: context)
        default:
            self.respond(.notFound, "not found\n", head: head, context: context)
        }
    }

    private func respond(
        _ status: HTTPResponseStatus, _ body: String, contentType: String = "text/plain; charset=utf-8",
        head: NIOHTTP1.HTTPRequestHead, context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        var payload = context.channel.allocator.buffer(string: body)
        // A scraper that asks for gzip (Prometheus does) gets it: Prometheus text shrinks several times over.
        if body.utf8.count >= Self.compressFrom, Self.acceptsGzip(head.headers) {
            payload = context.channel.allocator.buffer(bytes: Gzip.compress(Array(body.utf8)))
            headers.add(name: "content-encoding", value: "gzip")
        }
        headers.add(name: "vary", value: "accept-encoding")
        headers.add(name: "content-length", value: String(payload.readableBytes))
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { bound.value.close(promise: nil) }
        }
    }
}

extension AdminHandler {
    /// Bodies smaller than this go as they are: gzip's header and trailer would outweigh what it saves.
    static let compressFrom = 1024

    /// Whether `Accept-Encoding` names gzip (or `*`) with a quality above zero.
    static func acceptsGzip(_ headers: HTTPHeaders) -> Bool {
        for value in headers["accept-encoding"] {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { String($0.trimmingASCIISpaces()).lowercased() }
                guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
                let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
                if quality > 0 { return true }
            }
        }
        return false
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
