import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `swiftlet diagnostics`: what a proxy has, and what the controller sends proxies — as `linkerd diagnostics` shows
/// them. Both answer on their host only, so on a cluster reach them through `kubectl port-forward`.
struct DiagnosticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "Shows a proxy's metrics, and the endpoints and policy the controller sends proxies for a Service.",
        discussion: """
            On a cluster, forward the ports first: kubectl -n shop port-forward pod/web-5d9c7b-x2x7q 4191 for proxy-metrics, \
            kubectl -n swiftlet port-forward deploy/swiftlet-controller 9990 for endpoints and policy.
            """,
        subcommands: [ProxyMetrics.self, Endpoints.self, Policy.self]
    )

    struct ProxyMetrics: AsyncCommand {
        static let configuration = CommandConfiguration(commandName: "proxy-metrics", abstract: "Prints a proxy's /metrics.")

        @Option(help: "The proxy's admin address (its port 4191, forwarded to this host on a cluster).")
        var adminAddr = "127.0.0.1:4191"

        func execute() async throws {
            print(try await DiagnosticsCommand.get("http://\(self.adminAddr)/metrics"), terminator: "")
        }
    }

    /// Options naming a Service and the controller to ask about it.
    struct Target: ParsableArguments {
        @Argument(help: "The Service's authority: web.shop.svc.cluster.local:8080, web.shop:8080, or web:8080 with -n.")
        var authority: String

        @Option(name: [.customShort("n"), .customLong("namespace")], help: "The namespace of a short name (web:8080).")
        var namespace = "default"

        @Option(help: "The controller's admin address (its port 9990, forwarded to this host on a cluster).")
        var controllerAdminAddr = "127.0.0.1:9990"

        /// RFC 3986's unreserved characters, and `:` and `/` (legal in a query): the rest is percent-encoded.
        static let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~:/"))

        func url(_ path: String, _ extra: [(String, String)] = []) -> String {
            let query = ([("authority", self.authority), ("namespace", self.namespace)] + extra).map { name, value in
                "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? value)"
            }
            return "http://\(self.controllerAdminAddr)\(path)?\(query.joined(separator: "&"))"
        }
    }

    struct Endpoints: AsyncCommand {
        static let configuration = CommandConfiguration(
            commandName: "endpoints", abstract: "The endpoints the controller sends proxies for a Service port.")

        @OptionGroup var target: Target

        func execute() async throws {
            print(try await DiagnosticsCommand.get(self.target.url("/debug/endpoints")), terminator: "")
        }
    }

    struct Policy: AsyncCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy", abstract: "The routes, timeouts, retries and budgets the controller sends proxies for a Service port.")

        @OptionGroup var target: Target

        @Option(help: "The calling proxy's namespace (consumer routes apply to their own namespace's clients).")
        var clientNamespace: String?

        func execute() async throws {
            print(
                try await DiagnosticsCommand.get(
                    self.target.url("/debug/policy", self.clientNamespace.map { [("client-namespace", $0)] } ?? [])),
                terminator: "")
        }
    }

    /// The body of a GET, or a failure saying what answered (or that nothing did).
    static func get(_ url: String) async throws -> String {
        // Uncompressed: a proxy's metrics gzip better than the 10:1 that AsyncHTTPClient's decompression allows.
        // Not retried: a refused connection means no port-forward, said at once.
        var configuration = HTTPClient.Configuration(decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let body = try await Self.get(url, client: client)
            try? await client.shutdown()
            return body
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private static func get(_ url: String, client: HTTPClient) async throws -> String {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        } catch {
            throw CommandFailure("nothing answers at \(url) (\(Self.reason(error))); on a cluster, kubectl port-forward first")
        }
        let body = String(buffer: try await response.body.collect(upTo: 64 << 20))
        guard response.status == .ok else {
            throw CommandFailure("\(url): \(response.status.code) \(body.trimmingCharacters(in: .newlines))")
        }
        return body
    }

    /// The reason without NIO's `(errno: 111)` and `connection reset (error set)` wording.
    static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        return "\(error)"
    }
}
