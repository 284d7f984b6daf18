import AsyncHTTPClient
import Controller
import Foundation
import Kubernetes
import NIOCore
import SwiftletAPI

/// Where the tap API is: the controller's on this machine (local mode), or the Kubernetes API server's aggregated
/// `tap.swiftlet.io`, reached with the user's own kubeconfig credentials (RBAC decides).
enum TapEndpoint: Sendable {
    case local(address: String)
    case kubernetes(KubernetesConfig)
}

/// Reads a tap from the tap API: one POST, then events until the caller stops or the stream ends.
enum TapAPIClient {
    /// Streams the events of `request` to `handle`; returns when the stream ends (every pod's tap ended), or —
    /// `untilCancelled` — when the task is cancelled (Ctrl-C: the user's way to stop a tap, not a failure).
    static func stream(
        _ request: Swiftlet_Tap_V1_TapByResourceRequest, endpoint: TapEndpoint, untilCancelled: Bool = false,
        handle: (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void
    ) async throws {
        do {
            switch endpoint {
            case .local(let address): try await Self.stream(request, address: address, handle: handle)
            case .kubernetes(let config): try await Self.stream(request, kubernetes: config, handle: handle)
            }
        } catch  where untilCancelled && Task.isCancelled {
            return
        }
    }

    private static func stream(
        _ request: Swiftlet_Tap_V1_TapByResourceRequest, kubernetes config: KubernetesConfig,
        handle: (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void
    ) async throws {
        let client = try KubernetesClient(config: config)
        let path = TapAPIPath.path(for: request.target)
        do {
            var decoder = TapFrameDecoder()
            try await client.stream(
                path, body: try request.serializedBytes(), contentType: "application/x-protobuf", accept: TapAPIServer.contentType
            ) { chunk in
                decoder.append(chunk)
                while let event = try decoder.next() { try await handle(event) }
            }
            try? await client.shutdown()
        } catch let error as KubernetesError {
            try? await client.shutdown()
            throw CommandFailure(Self.message(error, server: config.server))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// What a refused or failed tap through the API server means, and what to do.
    static func message(_ error: KubernetesError, server: String) -> String {
        let said = error.apiMessage ?? error.message
        switch error.status {
        case 403?:
            if said.contains(TapAggregatedAPI.adminRole) { return said }
            let user = said.range(of: #"User "[^"]*""#, options: .regularExpression).map { String(said[$0].dropFirst(6).dropLast()) }
            return said + "\n" + TapAggregatedAPI.hint(user: user)
        case 404?:
            return "the API server at \(server) does not serve \(TapAPIPath.group)/\(TapAPIPath.version) (\(said)): is Swiftlet installed "
                + "with its tap API? `swiftlet install` prints its APIService v1alpha1.\(TapAPIPath.group)"
        case 503?:
            return "the tap API (APIService v1alpha1.\(TapAPIPath.group)) is unavailable (\(said)): is swiftlet-controller running? "
                + "`kubectl get apiservice v1alpha1.\(TapAPIPath.group)` says why"
        case let status?:
            return "the tap API answered \(status): \(said)"
        case nil:
            return "cannot reach the Kubernetes API server at \(server): \(error)"
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
                    + "and is --tap-addr its tap address? (Without --tap-addr, a kubeconfig taps through its cluster's API server.)")
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
