import AsyncHTTPClient
import Controller
import Foundation
import NIOCore
import SwiftletAPI

/// Reads a tap from the tap API: one POST, then events until the caller stops or the stream ends.
enum TapAPIClient {
    /// Streams the events of `request` to `handle`; returns when the stream ends (every pod's tap ended), or —
    /// `untilCancelled` — when the task is cancelled (Ctrl-C: the user's way to stop a tap, not a failure).
    static func stream(
        _ request: Swiftlet_Tap_V1_TapByResourceRequest, address: String, untilCancelled: Bool = false,
        handle: (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void
    ) async throws {
        do {
            try await Self.stream(request, address: address, handle: handle)
        } catch  where untilCancelled && Task.isCancelled {
            return
        }
    }

    private static func stream(
        _ request: Swiftlet_Tap_V1_TapByResourceRequest, address: String,
        handle: (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void
    ) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await Self.stream(request, url: "http://\(address)\(TapAPIPath.path(for: request.target))", client: client, handle: handle)
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private static func stream(
        _ request: Swiftlet_Tap_V1_TapByResourceRequest, url: String, client: HTTPClient,
        handle: (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void
    ) async throws {
        var post = HTTPClientRequest(url: url)
        post.method = .POST
        post.headers.add(name: "content-type", value: "application/x-protobuf")
        post.body = .bytes(ByteBuffer(bytes: try request.serializedBytes() as [UInt8]))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(post, deadline: .distantFuture)
        } catch {
            throw CommandFailure(
                "the tap API does not answer at \(url.split(separator: "/").prefix(2).joined(separator: "//")) "
                    + "(\(DiagnosticsCommand.reason(error))): is `swiftlet controller` (or `swiftlet demo`) running, "
                    + "and is --tap-addr its tap address? On a cluster, kubectl port-forward its port 8089 first")
        }
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw CommandFailure(Self.message(status: Int(response.status.code), body: body))
        }
        var decoder = TapFrameDecoder()
        for try await chunk in response.body {
            decoder.append(chunk)
            while let event = try decoder.next() { try await handle(event) }
        }
    }

    /// The Status's message, which says what to do; the raw body when it is not one.
    static func message(status: Int, body: ByteBuffer) -> String {
        struct Status: Decodable { var message: String? }
        if let status = try? JSONDecoder().decode(Status.self, from: Data(body.readableBytesView)), let message = status.message {
            return message
        }
        return "the tap API answered \(status): \(String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}
