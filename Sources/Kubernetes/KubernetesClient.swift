import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// A client of the Kubernetes API over async-http-client: get, create, list (paged) and watch (JSON lines), with
/// the API's `Status` turned into `KubernetesError`s callers can tell apart (410 Gone above all).
///
/// One client per process: its connection pool is shared by every list and watch.
public final class KubernetesClient: Sendable {
    public let config: KubernetesConfig
    private let http: HTTPClient

    public init(config: KubernetesConfig) throws(KubernetesError) {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        // A closing connection waits this long for the server's close_notify (5 s by default, which a shutdown
        // with a dozen watches open would spend in full).
        tls.shutdownTimeout = .milliseconds(500)
        do {
            if let ca = config.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let certificate = config.clientCertificatePEM, let key = config.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubernetesError(.configuration, "the cluster's CA or the client certificate is not valid PEM", cause: error)
        }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10))
        // Every watch holds an HTTP/1.1 connection of its own (over HTTP/2 they share one).
        configuration.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        configuration.decompression = .disabled
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the connections; call once, when done.
    public func shutdown() async throws {
        try await self.http.shutdown()
    }

    // MARK: requests

    /// GETs an object (or anything else) and decodes it.
    public func get<T: Decodable>(_ path: String, query: [(String, String)] = [], as: T.Type = T.self) async throws(KubernetesError) -> T {
        let body = try await self.send(.GET, path, query: query, body: nil)
        return try self.decode(T.self, body, what: path)
    }

    /// POSTs `object` to `path` (creating it, or asking a review) and decodes the answer.
    public func post<Body: Encodable, T: Decodable>(_ path: String, _ object: Body, as: T.Type = T.self) async throws(KubernetesError) -> T
    {
        let encoded: Data
        do { encoded = try JSONEncoder().encode(object) } catch {
            throw KubernetesError(.decoding, "cannot encode the request", cause: error)
        }
        let body = try await self.send(.POST, path, query: [], body: ByteBuffer(data: encoded))
        return try self.decode(T.self, body, what: path)
    }

    /// Every object of a kind, page by page (`limit`/`continue`), and the resourceVersion the list is consistent at:
    /// the version a watch resumes from.
    public func list<T: KubernetesObject>(
        _ resource: ResourcePath, labelSelector: String? = nil, fieldSelector: String? = nil, pageSize: Int = 500, as: T.Type = T.self
    ) async throws(KubernetesError) -> (items: [T], resourceVersion: String) {
        var items: [T] = []
        var next: String? = nil
        var version = ""
        repeat {
            var query = Self.selectors(labelSelector, fieldSelector)
            query.append(("limit", String(pageSize)))
            if let next { query.append(("continue", next)) }
            let page: ObjectList<T> = try await self.get(resource.path(), query: query)
            items.append(contentsOf: page.items)
            if version.isEmpty { version = page.metadata.resourceVersion ?? "" }
            next = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while next != nil
        return (items, version)
    }

    /// Watches a kind from `resourceVersion` with bookmarks, handing `receive` the events of each chunk read
    /// (several at once under load, so the caller can apply them together). Returns when the server ends the
    /// watch (its `timeoutSeconds`, a restart): resume from the last version seen. Throws `.gone` when the version
    /// is too old (list again), other codes when the connection or the request failed.
    public func watch<T: KubernetesObject>(
        _ resource: ResourcePath, from resourceVersion: String, labelSelector: String? = nil, fieldSelector: String? = nil,
        timeoutSeconds: Int = 300, as: T.Type = T.self, receive: ([WatchEvent<T>]) async throws -> Void
    ) async throws {
        var query = Self.selectors(labelSelector, fieldSelector)
        query += [
            ("watch", "true"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", String(timeoutSeconds)),
        ]
        let request = self.request(.GET, resource.path(), query: query, body: nil)
        let response = try await self.open(
            request, deadline: .now() + .seconds(Int64(timeoutSeconds) + 30), what: "watch \(resource)", failing: "cannot watch \(resource)"
        )
        var pending = ByteBuffer()
        let decoder = JSONDecoder()
        do {
            for try await chunk in response.body {
                var chunk = chunk
                pending.writeBuffer(&chunk)
                var events: [WatchEvent<T>] = []
                while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending.readSlice(length: newline - pending.readerIndex + 1)!
                    guard line.readableBytes > 1 else { continue }
                    let event: WatchEvent<T>
                    do {
                        event = try decoder.decode(WatchEvent<T>.self, from: line)
                    } catch {
                        throw KubernetesError(.decoding, "a watch event of \(resource) does not decode", cause: error)
                    }
                    if case .error(let status) = event {
                        if events.count > 0 { try await receive(events) }
                        if status.code == 410 { throw KubernetesError(.gone, status.message ?? "resource version too old", status: 410) }
                        throw KubernetesError(.status, status.message ?? "watch error", status: status.code)
                    }
                    events.append(event)
                }
                pending.discardReadBytes()
                if !events.isEmpty { try await receive(events) }
            }
        } catch let error as KubernetesError {
            throw error
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw KubernetesError(.transport, "the watch of \(resource) was cut", cause: error)
        }
    }

    /// POSTs `body` (of `contentType`) and hands each piece of the answer's body to `receive` as it arrives, until the
    /// server ends it or `receive` throws: an aggregated API's stream (a tap). A refusal is a `.status` error with the
    /// API's `Status` message (403 above all).
    public func stream(
        _ path: String, body: [UInt8], contentType: String, accept: String, receive: (ByteBuffer) async throws -> Void
    ) async throws {
        var request = self.request(.POST, path, query: [], body: nil)
        request.headers.replaceOrAdd(name: "Accept", value: accept)
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await self.open(
            request, deadline: .distantFuture, what: "POST \(path)", failing: "cannot POST \(path) to \(self.config.server)")
        for try await chunk in response.body { try await receive(chunk) }
    }

    // MARK: plumbing

    private static func selectors(_ labels: String?, _ fields: String?) -> [(String, String)] {
        var query: [(String, String)] = []
        if let labels, !labels.isEmpty { query.append(("labelSelector", labels)) }
        if let fields, !fields.isEmpty { query.append(("fieldSelector", fields)) }
        return query
    }

    private func request(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?) -> HTTPClientRequest {
        var url = self.config.server
        while url.hasSuffix("/") { url.removeLast() }
        url += path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "swiftlet")
        if let token = self.config.bearerToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        return request
    }

    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }

    private func send(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?) async throws(KubernetesError)
        -> ByteBuffer
    {
        let request = self.request(method, path, query: query, body: body)
        let response: HTTPClientResponse
        let collected: ByteBuffer
        do {
            response = try await self.http.execute(request, timeout: .seconds(60))
            collected = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw KubernetesError(.transport, "\(method) \(path) failed", cause: error)
        }
        guard (200..<300).contains(response.status.code) else {
            throw self.failure(status: Int(response.status.code), body: collected, what: "\(method) \(path)")
        }
        return collected
    }

    /// A request whose answer streams (a watch, an aggregated API's stream): the response once its head says 200.
    private func open(_ request: HTTPClientRequest, deadline: NIODeadline, what: String, failing: String) async throws -> HTTPClientResponse
    {
        let response: HTTPClientResponse
        do {
            response = try await self.http.execute(request, deadline: deadline)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw KubernetesError(.transport, failing, cause: error)
        }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            throw self.failure(status: Int(response.status.code), body: body, what: what)
        }
        return response
    }

    private func failure(status: Int, body: ByteBuffer?, what: String) -> KubernetesError {
        let said = body.flatMap { try? JSONDecoder().decode(APIStatus.self, from: $0) }?.message ?? body.map { String(buffer: $0) } ?? ""
        let code: KubernetesError.Code = status == 410 ? .gone : .status
        var error = KubernetesError(code, "\(what): \(said)", status: status)
        error.apiMessage = said.trimmingCharacters(in: .whitespacesAndNewlines)
        return error
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, what: String) throws(KubernetesError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw KubernetesError(.decoding, "the answer to \(what) does not decode as \(T.self)", cause: error)
        }
    }
}
