import Foundation

/// The demo application's shape: which instances run, on which loopback ports, and the YAML that tells the
/// controller about them.
struct DemoTopology: Sendable {
    enum Role: String, Sendable { case web, emoji, voting, voteBot = "vote-bot" }

    struct Instance: Sendable {
        var name: String
        var role: Role
        var appPort: Int
        var inboundPort: Int
        var outboundPort: Int
        var adminPort: Int
        /// The usual latency of a voting replica's answers.
        var latencyMilliseconds: Int
    }

    static let namespace = "emojivoto"
    var instances: [Instance]
    var controllerPort: Int
    var controllerAdminPort: Int

    static func make() throws -> DemoTopology {
        func instance(_ name: String, _ role: Role, latency: Int = 0) throws -> Instance {
            Instance(
                name: name, role: role, appPort: try freePort(), inboundPort: try freePort(), outboundPort: try freePort(),
                adminPort: try freePort(), latencyMilliseconds: latency
            )
        }
        return DemoTopology(
            instances: [
                try instance("web-0", .web),
                try instance("emoji-0", .emoji),
                try instance("voting-0", .voting, latency: 2),
                try instance("voting-1", .voting, latency: 2),
                try instance("vote-bot-0", .voteBot),
            ],
            controllerPort: try freePort(), controllerAdminPort: try freePort()
        )
    }

    /// The Services and Workloads, one file per kind of thing a person may want to edit.
    func manifests() -> [String: String] {
        var files: [String: String] = [:]
        files["services.yaml"] = [
            Self.service("web", port: 80, targetPort: "http", appProtocol: nil),
            Self.service("emoji", port: 8080, targetPort: "grpc", appProtocol: "kubernetes.io/h2c"),
            Self.service("voting", port: 8080, targetPort: "http", appProtocol: nil),
        ].joined(separator: "---\n")
        for instance in self.instances where instance.role != .voteBot {
            files["\(instance.name).yaml"] = """
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata:
                  name: \(instance.name)
                  namespace: \(Self.namespace)
                  labels: {app: \(instance.role.rawValue)}
                spec:
                  serviceAccount: \(instance.role.rawValue)
                  # Loopback mode: the workload is reached through its proxy's inbound port.
                  address: 127.0.0.1
                  ports:
                  - name: \(instance.role == .emoji ? "grpc" : "http")
                    port: \(instance.inboundPort)

                """
        }
        return files
    }

    static func service(_ name: String, port: Int, targetPort: String, appProtocol: String?) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(Self.namespace)
        spec:
          selector: {app: \(name)}
          ports:
          - name: \(targetPort)
            port: \(port)
            targetPort: \(targetPort)\(appProtocol.map { "\n    appProtocol: \($0)" } ?? "")

        """
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DemoError("cannot open a socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw DemoError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct DemoError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
