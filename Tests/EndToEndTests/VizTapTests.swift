import Foundation
import Testing

/// `swiftlet viz tap` and `viz top` end to end in local mode: the CLI asks the controller's tap API, the controller
/// asks each pod's proxy over mTLS as the tap identity, and what the client saw is what tap shows.
@Suite struct VizTapTests {
    /// A controller with identity, `web` (upstream.py behind a meshed proxy) and `bot` (a meshed client), both
    /// declared as Workloads with their proxies' tap ports; at this host's own address when it has one, so that the
    /// controller reaches the proxies' tap servers as another host does (only the tap identity is let in).
    final class TapMesh: @unchecked Sendable {
        let mesh: MeshFixture
        let app: FixtureProcess
        let grpc: FixtureProcess
        let web: ProxyProcess
        let echo: ProxyProcess
        let bot: ProxyProcess
        let address: String

        static let tapIdentity = "tap.swiftlet.serviceaccount.identity.swiftlet.cluster.local"

        init(extraWorkloads: String = "") async throws {
            self.mesh = try await MeshFixture.start(
                manifests: ["web.yaml": MeshFixture.service("web"), "echo.yaml": MeshFixture.service("echo")])
            self.address = try await TapServerTests.hostAddress() ?? "127.0.0.1"
            self.app = try await FixtureProcess.start("upstream.py")
            self.grpc = try await FixtureProcess.start("grpc_policy_peer.py", ["server", "echo-0"])
            let listen = [
                "SWIFTLET_PROXY_INBOUND_LISTEN_ADDR": "0.0.0.0:0", "SWIFTLET_PROXY_TAP_LISTEN_ADDR": "0.0.0.0:0",
                "SWIFTLET_PROXY_TAP_SVC_NAME": Self.tapIdentity,
            ]
            self.web = try await self.mesh.proxy(
                "web", listen.merging(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(self.app.port)"]) { $1 })
            self.echo = try await self.mesh.proxy(
                "echo", listen.merging(["SWIFTLET_PROXY_INBOUND_FORWARD_ADDR": "127.0.0.1:\(self.grpc.port)"]) { $1 })
            self.bot = try await self.mesh.proxy("bot", listen)
            try self.mesh.write(
                "workloads.yaml",
                Self.workload("web-0", app: "web", port: self.web.inboundPort, tapPort: self.web.tapPort, address: self.address)
                    + "---\n"
                    + Self.workload("bot-0", app: "bot", port: self.bot.inboundPort, tapPort: self.bot.tapPort, address: self.address)
                    + "---\n"
                    + Self.workload("echo-0", app: "echo", port: self.echo.inboundPort, tapPort: self.echo.tapPort, address: self.address)
                    + extraWorkloads)
            // Discovery has the workloads once a request through the bot reaches web.
            for _ in 0..<100 {
                if try await self.get("/ok").status == 0 { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("web never answered through the bot's proxy")
        }

        deinit {
            for proxy in [self.web, self.echo, self.bot] { proxy.stop() }
            self.app.child.stop()
            self.grpc.child.stop()
            self.mesh.controller.child.stop()
        }

        static func workload(
            _ name: String, app: String, port: Int, tapPort: Int, address: String, annotations: String = "", meshed: Bool = true
        )
            -> String
        {
            """
            apiVersion: swiftlet.io/v1alpha1
            kind: Workload
            metadata: {name: \(name), namespace: demo, labels: {app: \(app)}\(annotations)}
            spec:
              {serviceAccount: \(app), address: \(address), ports: [{name: http, port: \(port)}], tapPort: \(tapPort), meshed: \(meshed)}

            """
        }

        /// A request through the bot's proxy to web, as curl reports it.
        func get(_ path: String) async throws -> (status: Int32, output: String) {
            let result = try await run(
                "curl",
                [
                    "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H", "Host: web:8080",
                    "http://127.0.0.1:\(self.bot.outboundPort)\(path)",
                ])
            return (result.status, result.output)
        }

        /// `count` gRPC calls (HTTP/2) through the bot's proxy to echo, with grpcio.
        func call(_ count: Int) async throws -> String {
            try await run(
                E2E.python,
                [
                    E2E.fixtures.appendingPathComponent("grpc_policy_peer.py").path, "client", "127.0.0.1:\(self.bot.outboundPort)",
                    "echo:8080", "Unary", String(count),
                ]
            ).output
        }

        /// `swiftlet viz …` against this mesh's controller: running, or run to its end.
        func viz(_ arguments: [String]) throws -> ChildProcess {
            try ChildProcess(ControllerProcess.binary, self.against(arguments), name: "swiftlet viz")
        }

        func vizOnce(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await run(ControllerProcess.binary, self.against(arguments))
        }

        private func against(_ arguments: [String]) -> [String] {
            ["viz"] + arguments + ["-n", "demo", "--tap-addr", "127.0.0.1:\(self.mesh.controller.tapPort ?? 0)"]
        }
    }

    /// Lines of `tap` that start with `kind` (req, rsp, end).
    static func lines(_ tap: ChildProcess, _ kind: String) -> [Substring] {
        tap.text.split(separator: "\n").filter { $0.hasPrefix(kind + " ") }
    }

    static func field(_ line: Substring, _ key: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test(.enabled(if: E2E.available("curl", "python3")))
    func tapOfADeploymentShowsItsRequestsInLinkerdsLinesWithWhatTheClientSaw() async throws {
        let mesh = try await TapMesh()
        let tap = try mesh.viz(["tap", "deploy/web"])
        defer { tap.stop() }
        let grpcTap = try mesh.viz(["tap", "deploy/echo"])
        defer { grpcTap.stop() }
        try await mesh.web.waitForMetric("tap_streams")
        try await mesh.echo.waitForMetric("tap_streams")
        let one = try await mesh.get("/bytes/1234")
        let two = try await mesh.get("/bytes/3000?length=1")
        #expect(one.output == "200 1234" && two.output == "200 3000", "\(one) \(two)")
        let calls = try await mesh.call(2)
        #expect(calls.contains("RESULT ok=2 by=echo-0:2"), "\(calls)")
        _ = try await tap.waitForLine(
            where: { $0.hasPrefix("end ") && $0.contains("response-length=3000B") }, describedAs: "the second end")
        let requests = Self.lines(tap, "req")
        #expect(requests.count == 2, "\(tap.text)")
        let first = try #require(requests.first)
        #expect(Self.field(first, "proxy") == "in", "web's proxy sees them inbound: \(first)")
        #expect(Self.field(first, "tls") == "true", "between two proxies: \(first)")
        #expect(Self.field(first, ":method") == "GET" && Self.field(first, ":path") == "/bytes/1234", "\(first)")
        #expect(Self.field(first, ":authority")?.hasPrefix("web") == true, "\(first)")
        #expect(Self.field(first, "dst")?.hasSuffix(":\(mesh.web.inboundPort)") == true || Self.field(first, "dst") != nil)
        let responses = Self.lines(tap, "rsp")
        #expect(responses.count == 2 && responses.allSatisfy { Self.field($0, ":status") == "200" }, "\(tap.text)")
        #expect(responses.allSatisfy { Self.field($0, "latency")?.hasSuffix("µs") == true })
        let ends = Self.lines(tap, "end")
        #expect(ends.compactMap { Self.field($0, "response-length") } == ["1234B", "3000B"], "the bytes curl received: \(tap.text)")
        #expect(Self.field(first, "id") == Self.field(ends[0], "id"), "one request's lines share its id")

        // gRPC over HTTP/2: its status from the trailers, and the bytes of each answer (a 5-byte frame header and
        // "echo-0:m0").
        _ = try await grpcTap.waitForLine(where: { $0.hasPrefix("end ") && $0.contains(":2 proxy=") }, describedAs: "the second call's end")
        let grpcCalls = Self.lines(grpcTap, "req")
        #expect(
            grpcCalls.count == 2
                && grpcCalls.allSatisfy { Self.field($0, ":path") == "/test.Echo/Unary" && Self.field($0, ":method") == "POST" })
        #expect(Self.lines(grpcTap, "rsp").allSatisfy { Self.field($0, ":status") == "200" })
        let grpcEnds = Self.lines(grpcTap, "end")
        #expect(grpcEnds.count == 2 && grpcEnds.allSatisfy { Self.field($0, "grpc-status") == "OK" }, "\(grpcTap.text)")
        #expect(grpcEnds.allSatisfy { Self.field($0, "response-length") == "14B" }, "\(grpcTap.text)")
        tap.signal(SIGINT)
        #expect(try await tap.waitForExit() == 0, "Ctrl-C ends a tap cleanly: \(tap.text)")
    }

    @Test(.enabled(if: E2E.available("curl", "python3")))
    func filtersAndToNarrowTheTapAndWideSaysWhereEachEndIs() async throws {
        let mesh = try await TapMesh()
        let tap = try mesh.viz(["tap", "deploy/bot", "--to", "deploy/web", "--path", "/bytes/", "--method", "GET", "-o", "wide"])
        defer { tap.stop() }
        let json = try mesh.viz(["tap", "deploy/bot", "--path", "/bytes/10", "-o", "json"])
        defer { json.stop() }
        for _ in 0..<250 where try await mesh.bot.metric("tap_streams") < 2 { try await Task.sleep(for: .milliseconds(20)) }
        for path in ["/other", "/bytes/10", "/bytes/20"] { _ = try await mesh.get(path) }
        _ = try await tap.waitForLine(where: { $0.hasPrefix("end ") && $0.contains("response-length=20B") }, describedAs: "the second end")
        let requests = Self.lines(tap, "req")
        #expect(requests.compactMap { Self.field($0, ":path") } == ["/bytes/10", "/bytes/20"], "/other is filtered out: \(tap.text)")
        let first = try #require(requests.first)
        #expect(Self.field(first, "proxy") == "out", "the bot's proxy sees them outbound")
        #expect(Self.field(first, "src_res") == "deploy/bot" && Self.field(first, "src_ns") == "demo", "\(first)")
        #expect(Self.field(first, "dst_res") == "deploy/web" && Self.field(first, "dst_ns") == "demo", "\(first)")
        // -o json: each event as JSON, the request's headers included.
        let line = try await json.waitForLine(containing: "requestInit")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let request = (object["event"] as? [String: Any])?["http"] as? [String: Any]
        let initEvent = try #require(request?["requestInit"] as? [String: Any], "\(line)")
        #expect(initEvent["path"] as? String == "/bytes/10")
        #expect("\(initEvent["headers"] ?? "")".lowercased().contains("user-agent"), "headers asked for with json: \(line)")
        #expect(object["proxy"] as? String == "demo/bot-0")
    }

    @Test(.enabled(if: E2E.available("curl", "python3")))
    func maxRPSHoldsTheTapToThatManyRequestsASecond() async throws {
        let mesh = try await TapMesh()
        let tap = try mesh.viz(["tap", "deploy/web", "--max-rps", "1"])
        defer { tap.stop() }
        try await mesh.web.waitForMetric("tap_streams")
        let started = ContinuousClock.now
        var sent = 0
        // At least 2.5 s and more than ten requests: a loaded machine sends fewer a second, not fewer in all.
        while ContinuousClock.now - started < .seconds(2.5) || sent <= 10 {
            _ = try await mesh.get("/ok")
            sent += 1
        }
        let elapsed = ContinuousClock.now - started
        _ = try await mesh.get("/ok")
        try await Task.sleep(for: .milliseconds(300))
        let tapped = Self.lines(tap, "req").count
        let windows = Int(elapsed.components.seconds) + 2
        #expect(sent > 10, "enough traffic to exceed the rate: \(sent)")
        #expect(tapped >= 2 && tapped <= windows, "about one a second: \(tapped) of \(sent) in \(elapsed)")
    }

    @Test(.enabled(if: E2E.available("curl", "python3")))
    func whatCannotBeTappedIsSaidClearly() async throws {
        let mesh = try await TapMesh(
            extraWorkloads: "---\n"
                + TapMesh.workload(
                    "quiet-0", app: "quiet", port: 1, tapPort: 1, address: "127.0.0.1",
                    annotations: ", annotations: {viz.swiftlet.io/disable-tap: \"true\"}")
                + "---\n" + TapMesh.workload("legacy-0", app: "legacy", port: 2, tapPort: 2, address: "127.0.0.1", meshed: false))
        let missing = try await mesh.vizOnce(["tap", "deploy/nothing"])
        #expect(missing.status == 1 && missing.output.contains("no pods found for deployment/nothing in namespace demo"), "\(missing)")
        let disabled = try await mesh.vizOnce(["tap", "deploy/quiet"])
        #expect(disabled.status == 1 && disabled.output.contains("tap is disabled"), "\(disabled)")
        let unmeshed = try await mesh.vizOnce(["tap", "deploy/legacy"])
        #expect(unmeshed.status == 1 && unmeshed.output.contains("none is meshed"), "\(unmeshed)")
        let service = try await mesh.vizOnce(["tap", "svc/web"])
        #expect(service.status != 0 && service.output.contains("cannot be a tap target"), "\(service)")
        let nobody = try await run(ControllerProcess.binary, ["viz", "tap", "deploy/web", "--tap-addr", "127.0.0.1:1"])
        #expect(nobody.status == 1 && nobody.output.contains("the tap API does not answer"), "\(nobody)")
    }

    @Test(.enabled(if: E2E.available("curl", "python3", "tmux")))
    func topIsATableRefreshedInPlaceAndQQuits() async throws {
        let mesh = try await TapMesh()
        let session = "swiftlet-top-\(getpid())"
        let command = [
            ControllerProcess.binary, "viz", "top", "deploy/web", "-n", "demo", "--tap-addr",
            "127.0.0.1:\(mesh.mesh.controller.tapPort ?? 0)",
        ]
        let started = try await run("tmux", ["new-session", "-d", "-s", session, "-x", "80", "-y", "24", command.joined(separator: " ")])
        #expect(started.status == 0, "\(started.output)")
        do {
            try await Self.checkTop(mesh, session: session)
        } catch {
            _ = try? await run("tmux", ["kill-session", "-t", session])
            throw error
        }
    }

    /// The table in tmux's window: rows counted in place, the header kept at the top, and `q` quitting.
    private static func checkTop(_ mesh: TapMesh, session: String) async throws {
        try await mesh.web.waitForMetric("tap_streams")
        for _ in 0..<3 { _ = try await mesh.get("/bytes/100") }
        func screen() async throws -> [Substring] {
            try await run("tmux", ["capture-pane", "-p", "-t", session]).output.split(separator: "\n", omittingEmptySubsequences: false)
        }
        // The bot's row (its path may be shortened to fit 80 columns).
        func row(_ lines: [Substring]) -> Substring? { lines.first { $0.hasPrefix("bot-0") && $0.contains("/bytes/") } }
        var lines: [Substring] = []
        for _ in 0..<50 where row(lines).map({ $0.split(separator: " ").contains("3") }) != true {
            try await Task.sleep(for: .milliseconds(200))
            lines = try await screen()
        }
        #expect(lines.first?.hasPrefix("swiftlet viz top deploy/web") == true, "the header is on the first line: \(lines)")
        #expect(lines.contains { $0.hasPrefix("Source") && $0.contains("Success Rate") }, "\(lines)")
        let first = try #require(row(lines), "a row for /bytes/100: \(lines)")
        #expect(first.contains("bot-0") && first.contains("web-0") && first.contains("GET") && first.contains("100.00%"), "\(first)")
        for _ in 0..<2 { _ = try await mesh.get("/bytes/100") }
        for _ in 0..<50 where row(lines).map({ $0.split(separator: " ").contains("5") }) != true {
            try await Task.sleep(for: .milliseconds(200))
            lines = try await screen()
        }
        #expect(row(lines)?.split(separator: " ").contains("5") == true, "the count went up in place: \(lines)")
        #expect(lines.first?.hasPrefix("swiftlet viz top deploy/web") == true, "still at the top, not scrolled: \(lines)")
        #expect(lines.allSatisfy { $0.count <= 80 }, "fits 80 columns")
        _ = try await run("tmux", ["send-keys", "-t", session, "q"])
        var alive = true
        for _ in 0..<50 where alive {
            alive = try await run("tmux", ["has-session", "-t", session]).status == 0
            if alive { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!alive, "q quits top (and its tmux window closes)")
        if alive { _ = try? await run("tmux", ["kill-session", "-t", session]) }
    }
}
