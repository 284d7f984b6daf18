import NIOCore
import NIOHTTP1
import NIOPosix

/// The demo's HTTP/1.1 client: one connection per request, with the destination named in `Host`. In explicit mode
/// it connects to the caller's proxy; in a pod, to the destination itself (iptables hands the connection to the proxy).
struct DemoHTTPClient: Sendable {
    let proxy: (host: String, port: Int)?

    init(proxy: (host: String, port: Int)?) {
        self.proxy = proxy
    }

    init(host: String, port: Int) {
        self.proxy = (host, port)
    }

    /// `name:port` split in two (port 80 when absent).
    static func split(_ authority: String) -> (String, Int) {
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else {
            return (authority, 80)
        }
        return (String(authority[..<colon]), port)
    }

    static let requestTimeout = TimeAmount.seconds(10)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func request(_ method: HTTPMethod, authority: String, path: String) async throws -> (status: Int, body: String) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(3))
            .connect(host: self.proxy?.host ?? Self.split(authority).0, port: self.proxy?.port ?? Self.split(authority).1) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        // A whole request is bounded: a peer that never answers (or a machine too loaded to) costs a failed
        // request, never a demo that hangs.
        let underlying = channel.channel
        let deadline = underlying.eventLoop.scheduleTask(in: Self.requestTimeout) { underlying.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "host", value: authority)
            headers.add(name: "connection", value: "close")
            if method == .POST { headers.add(name: "content-length", value: "0") }
            try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)))
            try await outbound.write(.end(nil))
            var status = 0
            var body = ""
            for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(var buffer): body += buffer.readString(length: buffer.readableBytes) ?? ""
                case .end: return (status, body)
                }
            }
            throw Failure(description: "connection closed before the response ended")
        }
    }
}
