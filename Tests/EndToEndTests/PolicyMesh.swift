import Foundation
import Testing

/// A controller over a manifest directory, one proxy using it, and `policy_upstream.py` workloads behind Services
/// of namespace `demo` — what the traffic-policy tests run against.
final class PolicyMesh: @unchecked Sendable {
    let directory: URL
    let controller: ControllerProcess
    let proxy: ProxyProcess
    let upstreams: [String: FixtureProcess]

    /// One Service per entry of `services` (name → its workloads), each workload a `policy_upstream.py` started with
    /// `arguments[workload]`; `documents` are more files (routes, annotations) written before the controller starts.
    static func start(
        services: [String: [String]], arguments: [String: [String]] = [:], serviceAnnotations: [String: String] = [:],
        documents: [String: String] = [:], grpcWorkloads: Set<String> = [], controllerArguments: [String] = []
    ) async throws -> PolicyMesh {
        let directory = try E2E.temporaryDirectory()
        var upstreams: [String: FixtureProcess] = [:]
        for (service, workloads) in services {
            let annotations = serviceAnnotations[service].map { lines in
                "  annotations:\n" + lines.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n") + "\n"
            }
            var text = """
                apiVersion: v1
                kind: Service
                metadata:
                  name: \(service)
                  namespace: demo
                \(annotations ?? "")\
                spec:
                  selector: {app: \(service)}
                  ports: [{name: http, port: 8080, targetPort: http}]

                """
            for workload in workloads {
                let upstream =
                    grpcWorkloads.contains(workload)
                    ? try await FixtureProcess.start("grpc_policy_peer.py", ["server", workload] + (arguments[workload] ?? []))
                    : try await FixtureProcess.start("policy_upstream.py", [workload] + (arguments[workload] ?? []))
                upstreams[workload] = upstream
                text += """
                    ---
                    apiVersion: swiftlet.io/v1alpha1
                    kind: Workload
                    metadata: {name: \(workload), namespace: demo, labels: {app: \(service)}}
                    spec: {serviceAccount: \(service), address: 127.0.0.1, ports: [{name: http, port: \(upstream.port)}]}

                    """
            }
            try text.write(to: directory.appendingPathComponent("service-\(service).yaml"), atomically: true, encoding: .utf8)
        }
        for (name, text) in documents {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let controller = try await ControllerProcess.start(manifests: directory, extra: controllerArguments)
        let proxy = try await ProxyProcess.start([
            "SWIFTLET_PROXY_DESTINATION_ADDR": "127.0.0.1:\(controller.destinationPort)", "SWIFTLET_PROXY_NAMESPACE": "demo",
        ])
        return PolicyMesh(directory: directory, controller: controller, proxy: proxy, upstreams: upstreams)
    }

    private init(directory: URL, controller: ControllerProcess, proxy: ProxyProcess, upstreams: [String: FixtureProcess]) {
        self.directory = directory
        self.controller = controller
        self.proxy = proxy
        self.upstreams = upstreams
    }

    /// Writes a manifest whole, then renames it into place (as editors and `kubectl` tooling do).
    func write(_ name: String, _ text: String) throws {
        try text.write(to: self.directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// `policy_client.py`: `count` requests to `path` of `authority` through the proxy's outbound listener.
    func send(
        _ path: String, count: Int, authority: String = "web:8080", method: String = "GET", headers: [String] = [], bodyBytes: Int = 0,
        connections: Int = 4, rate: Int? = nil
    ) async throws -> ClientResult {
        var arguments = [
            E2E.fixtures.appendingPathComponent("policy_client.py").path, String(self.proxy.outboundPort), authority, path, String(count),
            "--method", method, "--connections", String(connections), "--body-bytes", String(bodyBytes),
        ]
        for header in headers { arguments += ["--header", header] }
        if let rate { arguments += ["--rate", String(rate)] }
        let result = try await run(E2E.python, arguments)
        guard let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
            throw HarnessError("policy_client.py printed no result: \(result.output)")
        }
        return ClientResult(line)
    }

    /// `grpc_policy_peer.py client`: `count` calls of `/test.Echo/<method>` through the proxy with grpcio.
    func call(_ method: String, count: Int, authority: String, timeout: Double = 10) async throws -> GRPCResult {
        let result = try await run(
            E2E.python,
            [
                E2E.fixtures.appendingPathComponent("grpc_policy_peer.py").path, "client", "127.0.0.1:\(self.proxy.outboundPort)",
                authority, method,
                String(count), "--timeout", String(timeout),
            ]
        )
        guard let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
            throw HarnessError("grpc_policy_peer.py printed no result: \(result.output)")
        }
        return GRPCResult(line)
    }

    /// Requests `workload`'s upstream served (its own count, read directly).
    func served(_ workload: String) async throws -> Int {
        guard let upstream = self.upstreams[workload] else { throw HarnessError("no workload \(workload)") }
        let result = try await run("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(upstream.port)/_stats"])
        guard let value = result.output.split(separator: "=").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else {
            throw HarnessError("bad stats from \(workload): \(result.output)")
        }
        return value
    }

    /// Changes how `workload` answers (`fail-rate=0.2`, `status=500`, `status=0`, `delay=100`).
    func control(_ workload: String, _ query: String) async throws {
        guard let upstream = self.upstreams[workload] else { throw HarnessError("no workload \(workload)") }
        _ = try await run("curl", ["-sS", "--max-time", "10", "-X", "POST", "http://127.0.0.1:\(upstream.port)/_control?\(query)"])
    }
}

/// What `grpc_policy_peer.py client` counted: answers by server, calls by status code.
struct GRPCResult: CustomStringConvertible {
    var ok = 0
    var servedBy: [String: Int] = [:]
    var codes: [String: Int] = [:]
    var maxMilliseconds = 0.0
    let line: String

    init(_ line: Substring) {
        self.line = String(line)
        let result = ClientResult(line)
        self.ok = result.ok
        self.servedBy = result.servedBy
        self.maxMilliseconds = result.maxMilliseconds
        for field in line.split(separator: " ") where field.hasPrefix("codes=") {
            for entry in field.dropFirst(6).split(separator: ",") {
                let pair = entry.split(separator: ":")
                if pair.count == 2, let count = Int(pair[1]) { self.codes[String(pair[0])] = count }
            }
        }
    }

    var description: String { self.line }
}

/// What `policy_client.py` counted.
struct ClientResult: CustomStringConvertible {
    var total = 0
    var ok = 0
    var elapsedMilliseconds = 0.0
    var maxMilliseconds = 0.0
    var statuses: [String: Int] = [:]
    var servedBy: [String: Int] = [:]
    var errors: [String: Int] = [:]
    var transport: [String: Int] = [:]
    var digestMismatches = 0
    /// The answered requests' latency quantiles, as the client measured them: `0.5`, `0.95` and `0.99`.
    var quantilesMilliseconds: [Double: Double] = [:]
    let line: String

    init(_ line: Substring) {
        self.line = String(line)
        for field in line.split(separator: " ").dropFirst() {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = String(parts[1])
            func counts() -> [String: Int] {
                var result: [String: Int] = [:]
                guard value != "-" else { return result }
                for entry in value.split(separator: ",") {
                    let pair = entry.split(separator: ":", maxSplits: 1)
                    if pair.count == 2, let count = Int(pair[1]) { result[String(pair[0])] = count }
                }
                return result
            }
            switch parts[0] {
            case "total": self.total = Int(value) ?? 0
            case "ok": self.ok = Int(value) ?? 0
            case "elapsed_ms": self.elapsedMilliseconds = Double(value) ?? 0
            case "max_ms": self.maxMilliseconds = Double(value) ?? 0
            case "status": self.statuses = counts()
            case "by": self.servedBy = counts()
            case "error": self.errors = counts()
            case "transport": self.transport = counts()
            case "digest_mismatch": self.digestMismatches = Int(value) ?? 0
            case "p50_ms": self.quantilesMilliseconds[0.5] = Double(value)
            case "p95_ms": self.quantilesMilliseconds[0.95] = Double(value)
            case "p99_ms": self.quantilesMilliseconds[0.99] = Double(value)
            default: break
            }
        }
    }

    var description: String { self.line }
}
