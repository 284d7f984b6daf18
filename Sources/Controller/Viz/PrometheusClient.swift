import AsyncHTTPClient
import Foundation
import NIOCore

/// Asks a Prometheus instant queries over its HTTP API (`/api/v1/query`), as viz reads every figure it shows.
public struct PrometheusClient: Sendable {
    /// `http://host:port` (a path prefix too, as behind the Kubernetes API server's service proxy).
    public let base: String
    let timeout: TimeAmount

    public init(base: String, timeout: TimeAmount = .seconds(10)) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.timeout = timeout
    }

    /// The vector `query` evaluates to now; a clear error when Prometheus cannot be reached or refuses the query.
    /// Throws `VizError`.
    public func query(_ query: String) async throws -> [PrometheusSample] {
        let url = self.base + "/api/v1/query?query=" + Self.percentEncoded(query)
        let body: ByteBuffer
        let status: UInt
        do {
            let request = HTTPClientRequest(url: url)
            let response = try await HTTPClient.shared.execute(request, timeout: self.timeout)
            status = response.status.code
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw VizError(.prometheusUnreachable, "cannot reach Prometheus at \(self.base): \(Self.reason(error))")
        }
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        guard let object else {
            throw VizError(.prometheusFailed, "Prometheus at \(self.base) answered \(status) and no JSON: is that address a Prometheus?")
        }
        guard object["status"] as? String == "success" else {
            throw VizError(.prometheusFailed, "Prometheus refused \(query): \(object["error"] as? String ?? "status \(status)")")
        }
        let data = object["data"] as? [String: Any]
        let result = data?["result"] as? [[String: Any]] ?? []
        return result.compactMap { element in
            guard let pair = element["value"] as? [Any], pair.count == 2, let text = pair[1] as? String, let value = Double(text) else {
                return nil
            }
            return PrometheusSample(labels: element["metric"] as? [String: String] ?? [:], value: value)
        }
    }

    /// What a person can act on: the connection refused, the name not found, the time out.
    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "no answer in time" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }

    /// RFC 3986's unreserved characters: everything else in a query is percent-encoded (`+`, `=`, `{`, `"`, …).
    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }
}
