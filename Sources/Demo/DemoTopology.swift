import Foundation
import Synchronization

/// The demo application's shape: which instances run, where (loopback ports, or pods in network namespaces), and
/// the YAML that tells the controller about them.
struct DemoTopology: Sendable {
    enum Role: String, Sendable { case web, emoji, voting, votingV2 = "voting-v2", voteBot = "vote-bot" }

    struct Instance: Sendable {
        var name: String
        var role: Role
        /// Where the instance lives: `127.0.0.1` on loopback, its pod's address in a namespace.
        var address: String
        var appPort: Int
        var inboundPort: Int
        var outboundPort: Int
        var adminPort: Int
        /// The proxy's tap server.
        var tapPort: Int
        /// The usual latency of a voting replica's answers.
        var latencyMilliseconds: Int
    }

    static let namespace = "emojivoto"
    static let controlPlaneNamespace = "swiftlet"
    static let trustDomain = "cluster.local"

    /// The identity of an instance's proxy: its role is its service account.
    /// The tap service's identity, the one client (besides loopback) a proxy's tap server answers.
    static let tapIdentity = "tap.\(controlPlaneNamespace).serviceaccount.identity.\(controlPlaneNamespace).\(trustDomain)"

    static func identity(of instance: Instance) -> String {
        "\(instance.role.rawValue).\(Self.namespace).serviceaccount.identity.\(Self.controlPlaneNamespace).\(Self.trustDomain)"
    }
    var instances: [Instance]
    /// Where the controller's Destination API listens (loopback, or the pods' gateway).
    var controllerHost: String
    var controllerPort: Int
    var controllerAdminPort: Int
    /// The controller's tap API, on loopback (where `swiftlet viz tap` runs).
    var controllerTapPort: Int = 0
    /// Where the controller runs Prometheus (loopback), when there is a `prometheus` to run.
    var prometheusPort: Int = 0
    /// Where the controller serves the dashboard (loopback).
    var dashboardPort: Int = 0
    /// The controller's Identity API (on the same host as the Destination API).
    var identityPort: Int
    /// The pods' network, with `--netns`.
    var network: PodNetwork?

    /// The services the application names, with the cluster IP each gets in namespace mode.
    static let services: [(name: String, port: Int, targetPort: String, appProtocol: String?, clusterIP: String)] = [
        ("web", 80, "http", nil, PodNetwork.clusterIPPrefix + "10"),
        ("emoji", 8080, "grpc", "kubernetes.io/h2c", PodNetwork.clusterIPPrefix + "11"),
        ("voting", 8080, "http", nil, PodNetwork.clusterIPPrefix + "12"),
        ("voting-v2", 8080, "http", nil, PodNetwork.clusterIPPrefix + "13"),
    ]

    static let shape: [(name: String, role: Role, latency: Int)] = [
        ("web-0", .web, 0), ("emoji-0", .emoji, 0), ("voting-0", .voting, 2), ("voting-1", .voting, 2), ("voting-v2-0", .votingV2, 1),
        ("vote-bot-0", .voteBot, 0),
    ]

    /// Everything on loopback, each instance on ports of its own.
    static func make() throws -> DemoTopology {
        DemoTopology(
            instances: try Self.shape.map { name, role, latency in
                Instance(
                    name: name, role: role, address: "127.0.0.1", appPort: try freePort(), inboundPort: try freePort(),
                    outboundPort: try freePort(), adminPort: try freePort(), tapPort: try freePort(),
                    latencyMilliseconds: latency
                )
            },
            controllerHost: "127.0.0.1", controllerPort: try freePort(), controllerAdminPort: try freePort(),
            controllerTapPort: try freePort(), prometheusPort: try Self.prometheusPort(),
            dashboardPort: try Self.preferred(Self.defaultDashboardPort), identityPort: try freePort()
        )
    }

    /// Every instance in a pod of `network`, with a pod's usual ports: the application on 8080 and the proxy on
    /// Linkerd's.
    static func make(in network: PodNetwork) throws -> DemoTopology {
        DemoTopology(
            instances: Self.shape.enumerated().map { index, shape in
                Instance(
                    name: shape.name, role: shape.role, address: network.podAddress(index), appPort: 8080, inboundPort: 4143,
                    outboundPort: 4140, adminPort: 4191, tapPort: 4190, latencyMilliseconds: shape.latency
                )
            },
            controllerHost: network.gateway, controllerPort: try freePort(), controllerAdminPort: try freePort(),
            controllerTapPort: try freePort(), prometheusPort: try Self.prometheusPort(),
            dashboardPort: try Self.preferred(Self.defaultDashboardPort), identityPort: try freePort(),
            network: network
        )
    }

    /// A pod's `/etc/hosts`: the cluster's DNS, as far as the demo needs it.
    func hostsFile() -> String {
        var lines = ["127.0.0.1 localhost"]
        for service in Self.services {
            lines.append(
                "\(service.clusterIP) \(service.name).\(Self.namespace).svc.cluster.local \(service.name).\(Self.namespace).svc "
                    + "\(service.name).\(Self.namespace)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The Services and Workloads, one file per kind of thing a person may want to edit; with `retries`, the
    /// voting Service carries Linkerd's retry annotation (ours: `retry.swiftlet.io/http: 5xx`).
    func manifests(retries: Bool = false) -> [String: String] {
        var files: [String: String] = [:]
        files["services.yaml"] = self.servicesFile(retries: retries)
        files["route-voting.yaml"] = Self.votingRoute(v1: 90, v2: 10)
        for instance in self.instances {
            // On loopback the workload is reached through its proxy's inbound port; in a pod at its own address
            // and application port, which iptables hands to the proxy. The load generator serves nothing: no port,
            // but its proxy is tapped and scraped like the others (its outbound side is the web Service's traffic).
            let (address, port, comment) =
                self.network == nil
                ? ("127.0.0.1", instance.inboundPort, "Loopback mode: the workload is reached through its proxy's inbound port.")
                : (instance.address, instance.appPort, "The pod's address and the application's port (iptables hands it to the proxy).")
            let ports =
                instance.role == .voteBot
                ? "ports: []  # it serves nothing"
                : "ports:\n  - name: \(instance.role == .emoji ? "grpc" : "http")\n    port: \(port)"
            files["\(instance.name).yaml"] = """
                apiVersion: swiftlet.io/v1alpha1
                kind: Workload
                metadata:
                  name: \(instance.name)
                  namespace: \(Self.namespace)
                  labels: {app: \(instance.role.rawValue)}
                spec:
                  serviceAccount: \(instance.role.rawValue)
                  # \(comment)
                  address: \(address)
                  \(ports)
                  # Where its proxy's tap server listens (swiftlet viz tap).
                  tapPort: \(instance.tapPort)
                  # Its proxy's /metrics, which Prometheus scrapes (swiftlet viz stat).
                  adminPort: \(instance.adminPort)

                """
        }
        return files
    }

    /// The application's Services.
    func servicesFile(retries: Bool) -> String {
        Self.services.map {
            Self.service(
                $0.name, port: $0.port, targetPort: $0.targetPort, appProtocol: $0.appProtocol,
                clusterIP: self.network == nil ? nil : $0.clusterIP,
                annotations: retries && $0.name == "voting" ? ["retry.swiftlet.io/http: 5xx", "retry.swiftlet.io/limit: \"2\""] : []
            )
        }.joined(separator: "---\n")
    }

    /// The canary: an HTTPRoute on `voting` (the GAMMA way: its parent is the Service) splitting its requests
    /// between the two versions by weight.
    static func votingRoute(v1: Int, v2: Int) -> String {
        """
        # Traffic to the voting Service, split between voting (v1) and voting-v2 by weight.
        # Edit the weights (e.g. 50/50, or 0/100): the table shows the traffic move within two seconds.
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: voting-split
          namespace: \(Self.namespace)
        spec:
          parentRefs:
          - {group: core, kind: Service, name: voting, port: 8080}
          rules:
          - backendRefs:
            - {name: voting, port: 8080, weight: \(v1)}
            - {name: voting-v2, port: 8080, weight: \(v2)}

        """
    }

    static func service(_ name: String, port: Int, targetPort: String, appProtocol: String?, clusterIP: String?, annotations: [String] = [])
        -> String
    {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(Self.namespace)\(annotations.isEmpty ? "" : "\n  annotations:" + annotations.map { "\n    \($0)" }.joined())
        spec:\(clusterIP.map { "\n  clusterIP: \($0)" } ?? "")
          selector: {app: \(name)}
          ports:
          - name: \(targetPort)
            port: \(port)
            targetPort: \(targetPort)\(appProtocol.map { "\n    appProtocol: \($0)" } ?? "")

        """
    }

    /// A port to give a child, chosen below the kernel's ephemeral range: the child binds it a moment later, and a
    /// port from the ephemeral range (what `bind` to port 0 hands out) may meanwhile become the local port of some
    /// outgoing connection on a busy machine. Each port is handed out once per process.
    static func freePort() throws -> Int {
        let lowest = 10_000
        let ephemeral =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let upper = max(ephemeral, lowest + 1_000)
        for _ in 0..<200 {
            let port = Int.random(in: lowest..<upper)
            guard Self.handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if Self.canBind(port) { return port }
        }
        throw DemoError("cannot find a free port below \(upper)")
    }

    /// Prometheus's own port, 9090, when it is free: what `swiftlet viz stat` reads without being told, so the
    /// command the demo prints is the plain one; another port otherwise.
    static let defaultPrometheusPort = 9090

    /// The dashboard's port as Linkerd's: what `swiftlet viz dashboard` opens without being told.
    static let defaultDashboardPort = 50750

    static func prometheusPort() throws -> Int { try Self.preferred(Self.defaultPrometheusPort) }

    /// `port` when it is free, another otherwise.
    static func preferred(_ port: Int) throws -> Int {
        if Self.handedOut.withLock({ $0.insert(port).inserted }), Self.canBind(port) { return port }
        return try Self.freePort()
    }

    private static let handedOut = Mutex<Set<Int>>([])

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

struct DemoError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
