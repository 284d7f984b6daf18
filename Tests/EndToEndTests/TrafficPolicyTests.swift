import Foundation
import Testing

extension TimingSensitiveTests {
    /// Routes, splits, retries, timeouts and circuit breaking, end to end: the controller reads the Gateway API's
    /// HTTPRoutes from its directory, the proxy follows them over the Policy API, real upstreams answer.
    @Suite(.serialized, .enabled(if: E2E.available("curl")))
    struct TrafficPolicyTests {
        static func route(_ name: String, _ rules: String, parent: String = "web") -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(name), namespace: demo}
            spec:
              parentRefs: [{group: core, kind: Service, name: \(parent), port: 8080}]
              rules:
            \(rules)
            """
        }

        static func split(web: Int, v2: Int) -> String {
            Self.route(
                "web-split",
                """
                  - backendRefs:
                    - {name: web, port: 8080, weight: \(web)}
                    - {name: web-v2, port: 8080, weight: \(v2)}
                """
            )
        }

        @Test func aNinetyTenSplitHoldsWithinTwoPercentAndAWeightMovedUnderLoadLosesNothing() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"], "web-v2": ["web-b"]], documents: ["route.yaml": Self.split(web: 90, v2: 10)]
            )
            defer { withExtendedLifetime(mesh) {} }
            let result = try await mesh.send("/", count: 5000)
            #expect(result.ok == 5000, "\(result)")
            let share = Double(result.servedBy["web-b", default: 0]) / 5000
            #expect(abs(share - 0.10) <= 0.02, "web-v2 got \(share * 100) % of requests: \(result)")
            // Linkerd's route families count it, per route and per backend.
            let route = "route_kind=\"HTTPRoute\",route_namespace=\"demo\",route_name=\"web-split\""
            #expect(
                try await mesh.proxy.metric(
                    "outbound_http_route_request_statuses_total", "parent_name=\"web\"", route, "http_status=\"200\"") == 5000)
            let toV2 = try await mesh.proxy.metric("outbound_http_route_backend_requests_total", route, "backend_name=\"web-v2\"")
            #expect(toV2 == Double(result.servedBy["web-b", default: 0]))

            // Under constant load, web-v2's weight goes from 0 to 100: the traffic moves, and no request fails.
            try mesh.write("route.yaml", Self.split(web: 100, v2: 0))
            let load = try LoadProcess(port: mesh.proxy.outboundPort, authority: "web:8080")
            let settledAtZero = try await load.waitFor("traffic with web-v2 at weight 0") { $0.ok >= 200 }
            _ = settledAtZero
            let before = try await mesh.served("web-b")
            try await load.waitFor("more traffic") { $0.ok >= 600 }
            #expect(try await mesh.served("web-b") == before, "web-v2 got requests at weight 0")
            try mesh.write("route.yaml", Self.split(web: 0, v2: 100))
            let moved = try await load.waitFor("traffic on web-v2") { $0.byPort.isEmpty || true }
            _ = moved
            var seen = 0
            for _ in 0..<100 {
                seen = try await mesh.served("web-b")
                if seen > before + 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(seen > before + 200, "the traffic did not move to web-v2")
            let aAfterMove = try await mesh.served("web-a")
            try await load.waitFor("traffic after the move") { $0.ok >= 1500 }
            let final = try await load.finish()
            #expect(final.failed == 0, "failed requests: \(load.failures.prefix(5))")
            #expect(try await mesh.served("web-a") <= aAfterMove + 8, "web kept getting requests at weight 0")
        }

        @Test func retriesTurnTwentyPercentFailuresIntoSuccess() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a", "web-b"]], arguments: ["web-a": ["--fail-rate", "0.2"], "web-b": ["--fail-rate", "0.2"]],
                serviceAnnotations: ["web": "retry.swiftlet.io/http: 5xx\nretry.swiftlet.io/limit: \"4\""]
            )
            defer { withExtendedLifetime(mesh) {} }
            // The wiring, end to end (RetryStageTests has the behaviours): the Service's annotations reach the proxy,
            // and its retries turn a 20 % failure rate into success. At 100 requests a second that needs ~25 retries a
            // second: within the budget (20 % of requests plus 10 a second).
            let result = try await mesh.send("/", count: 300, rate: 100)
            let success = Double(result.ok) / 300
            #expect(success >= 0.995, "success \(success * 100) %: \(result)")
            let retries = try await mesh.proxy.metric(
                "outbound_http_route_retry_requests_total", "route_kind=\"default\"", "parent_name=\"web\"")
            let failedTries = try await mesh.proxy.metric("outbound_http_route_backend_response_statuses_total", "http_status=\"500\"")
            #expect(retries >= 30, "a fifth of 300 requests failed at first")
            #expect(retries == failedTries - Double(300 - result.ok), "a retry for every failed try but the last ones")
            #expect(try await mesh.proxy.metric("outbound_http_route_retry_successes_total") > 20)
        }

        @Test func withEveryEndpointFailingTheRetryBudgetBoundsTheAttemptsAndTheClientGetsTheFailure() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a", "web-b"]], arguments: ["web-a": ["--status", "500"], "web-b": ["--status", "500"]],
                serviceAnnotations: ["web": "retry.swiftlet.io/http: 5xx\nretry.swiftlet.io/limit: \"3\""]
            )
            defer { withExtendedLifetime(mesh) {} }
            let started = ContinuousClock.now
            let failing = try await mesh.send("/", count: 1000)
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            let attempts = try await mesh.served("web-a") + mesh.served("web-b")
            #expect(failing.statuses["500"] == 1000, "\(failing)")
            // At most 1.2 × requests + 10 a second over each 10 s window (the budget; one window unless the run is long),
            // where three retries each would have made 4,000.
            #expect(
                Double(attempts) <= 1.2 * 1000 + 100 * ((seconds + 1) / 10).rounded(.up),
                "\(attempts) attempts for 1,000 requests in \(seconds) s"
            )
            #expect(attempts > 1100, "the budget was not used: \(attempts)")
        }

        @Test func aRequestTimeoutAnswers504AtItsTimeAndAPerTryTimeoutIsRetried() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"], "slow": ["slow-a", "slow-b"]],
                arguments: ["slow-a": ["--delay", "2000"]],
                documents: [
                    "route.yaml": Self.route(
                        "web-timeouts",
                        """
                          - matches: [{path: {type: PathPrefix, value: /slow}}]
                            timeouts: {request: 300ms}
                            backendRefs: [{name: slow, port: 8080}]
                          - matches: [{path: {type: PathPrefix, value: /try}}]
                            timeouts: {request: 5s, backendRequest: 200ms}
                            retry: {attempts: 2}
                            backendRefs: [{name: slow, port: 8080}]
                        """
                    )
                ]
            )
            defer { withExtendedLifetime(mesh) {} }
            // slow-a answers after 2 s; requests that go there time out at 300 ms with 504 request_timeout.
            try await mesh.control("slow-b", "delay=2000")
            let timedOut = try await mesh.send("/slow", count: 6, connections: 1)
            #expect(timedOut.statuses["504"] == 6, "\(timedOut)")
            #expect(timedOut.errors["request_timeout"] == 6, "\(timedOut)")
            let each = timedOut.elapsedMilliseconds / 6
            #expect(each >= 295 && each <= 350, "each request took \(each) ms")

            // Per try: slow-a hangs past 200 ms, the retry goes to slow-b, which answers at once.
            try await mesh.control("slow-b", "delay=0")
            let retried = try await mesh.send("/try", count: 10, connections: 2)
            #expect(retried.ok == 10, "\(retried)")
            #expect(retried.servedBy["slow-b"] == 10, "\(retried)")
            #expect(try await mesh.served("slow-a") > 0, "no request tried slow-a, so nothing was retried")
        }

        @Test func anIdleTimeoutEndsAnExchangeNothingMovesIn() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"]], arguments: ["web-a": ["--delay", "3000"]],
                serviceAnnotations: ["web": "timeout.swiftlet.io/idle: 300ms"]
            )
            defer { withExtendedLifetime(mesh) {} }
            let idle = try await mesh.send("/", count: 2, connections: 1)
            #expect(idle.errors["idle_timeout"] == 2, "\(idle)")
            #expect(idle.statuses["504"] == 2, "\(idle)")
            #expect(idle.maxMilliseconds >= 295 && idle.maxMilliseconds < 600, "\(idle)")
        }

        @Test func aFailingEndpointIsEjectedAfterSevenFailuresGetsNothingWhileEjectedAndReturnsAfterItRecovers() async throws {
            let accrual = """
                balancer.swiftlet.io/failure-accrual: consecutive
                balancer.swiftlet.io/failure-accrual-consecutive-min-penalty: 5s
                balancer.swiftlet.io/failure-accrual-consecutive-jitter-ratio: "0"
                """
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-b"], "spare": ["web-a"]], arguments: ["web-b": ["--status", "500"]],
                serviceAnnotations: ["web": accrual]
            )
            defer { withExtendedLifetime(mesh) {} }
            // web-b alone, answering 500: seven failures eject it, and with no endpoint left the client gets 503
            // circuit_open at once instead of a wait.
            let first = try await mesh.send("/", count: 40, connections: 1)
            #expect(first.statuses["500"] == 7, "\(first)")
            #expect(first.errors["circuit_open"] == 33, "\(first)")
            #expect(try await mesh.served("web-b") == 7)
            let open = try await mesh.send("/", count: 50, connections: 1)
            #expect(open.errors["circuit_open"] == 50, "\(open)")
            #expect(open.elapsedMilliseconds / 50 < 10, "circuit_open took \(open.elapsedMilliseconds / 50) ms a request")
            #expect(
                try await mesh.proxy.metric("outbound_http_balancer_endpoints", "backend_name=\"web\"", "endpoint_state=\"ejected\"") == 1)

            // web-a joins the Service (its workload relabelled): it takes the traffic; web-b, ejected, gets none.
            let spare = try String(contentsOf: mesh.directory.appendingPathComponent("service-spare.yaml"), encoding: .utf8)
            try mesh.write("service-spare.yaml", spare.replacingOccurrences(of: "labels: {app: spare}", with: "labels: {app: web}"))
            var joined = ClientResult("RESULT")
            for _ in 0..<100 where joined.ok < 10 {
                joined = try await mesh.send("/", count: 10, connections: 1)
            }
            #expect(joined.servedBy["web-a"] == 10, "\(joined)")
            let whileEjected = try await mesh.send("/", count: 30, connections: 1)
            #expect(whileEjected.servedBy == ["web-a": 30], "\(whileEjected)")
            #expect(try await mesh.served("web-b") == 7, "web-b got requests while ejected")

            // web-b recovers and web-a starts failing: after its penalty web-b takes a request on probation, succeeds,
            // and serves again while web-a is ejected in turn.
            try await mesh.control("web-b", "status=0")
            try await mesh.control("web-a", "status=500")
            var recovered = ClientResult("RESULT")
            for _ in 0..<60 {
                recovered = try await mesh.send("/", count: 20, connections: 1)
                if recovered.servedBy == ["web-b": 20] { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(recovered.servedBy == ["web-b": 20], "\(recovered)")
        }

        @Test func headerPathMethodAndQueryMatchesRouteToTheirBackendsWithFilters() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"], "web-v2": ["web-b"]],
                documents: [
                    "route.yaml": Self.route(
                        "web-matches",
                        """
                          - matches: [{headers: [{name: x-canary, value: "yes"}]}]
                            backendRefs: [{name: web-v2, port: 8080}]
                          - matches: [{path: {type: Exact, value: /v2}}]
                            filters:
                            - type: URLRewrite
                              urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /headers}}
                            - type: RequestHeaderModifier
                              requestHeaderModifier: {set: [{name: x-route, value: rewritten}]}
                            - type: ResponseHeaderModifier
                              responseHeaderModifier: {add: [{name: x-served-by, value: rewritten}]}
                            backendRefs: [{name: web-v2, port: 8080}]
                          - matches: [{method: DELETE}]
                            backendRefs: [{name: web-v2, port: 8080}]
                          - matches: [{path: {type: PathPrefix, value: /q}, queryParams: [{name: v, value: "2"}]}]
                            backendRefs: [{name: web-v2, port: 8080}]
                          - matches: [{path: {type: PathPrefix, value: /old}}]
                            filters:
                            - type: RequestRedirect
                              requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}
                        """
                    )
                ]
            )
            defer { withExtendedLifetime(mesh) {} }
            // A request no rule takes is not the Service's once routes are attached: 404 (the Gateway API).
            let plain = try await mesh.send("/", count: 20)
            #expect(plain.statuses == ["404": 20], "\(plain)")
            let header = try await mesh.send("/", count: 20, headers: ["x-canary:yes"])
            #expect(header.servedBy == ["web-b": 20], "\(header)")
            let method = try await mesh.send("/", count: 20, method: "DELETE")
            #expect(method.servedBy == ["web-b": 20], "\(method)")
            let query = try await mesh.send("/q/x?a=1&v=2", count: 20)
            #expect(query.servedBy == ["web-b": 20], "\(query)")
            let otherQuery = try await mesh.send("/q/x?v=3", count: 20)
            #expect(otherQuery.statuses == ["404": 20], "\(otherQuery)")

            let rewritten = try await run(
                "curl", ["-sS", "-i", "--max-time", "10", "-x", "http://127.0.0.1:\(mesh.proxy.outboundPort)", "http://web:8080/v2"])
            #expect(rewritten.output.contains("\nGET /headers\n"), "\(rewritten.output)")
            #expect(rewritten.output.lowercased().contains("x-route: rewritten"), "\(rewritten.output)")
            #expect(rewritten.output.lowercased().contains("x-served-by: rewritten"), "\(rewritten.output)")

            let redirected = try await run(
                "curl",
                ["-sS", "-i", "--max-time", "10", "-x", "http://127.0.0.1:\(mesh.proxy.outboundPort)", "http://web:8080/old/page?x=1"])
            #expect(redirected.output.hasPrefix("HTTP/1.1 301"), "\(redirected.output)")
            #expect(redirected.output.lowercased().contains("location: http://web:8080/new/page?x=1"), "\(redirected.output)")
        }

        @Test func aSmallBodyIsReplayedByteForByteAndALargeOneIsNeverRetriedYetSucceeds() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a", "web-b"]], arguments: ["web-a": ["--fail-rate", "0.1"], "web-b": ["--fail-rate", "0.1"]],
                serviceAnnotations: ["web": "retry.swiftlet.io/http: 5xx\nretry.swiftlet.io/limit: \"5\""]
            )
            defer { withExtendedLifetime(mesh) {} }
            // Paced within the retry budget, so every failure can be retried. A 10% failure rate gives some six
            // replays; with six attempts a request still fails with probability 1e-6 (at 20% it was 6.4e-5 per
            // request, and one run in seventy-five lost one of its 200).
            let small = try await mesh.send("/digest", count: 60, method: "POST", bodyBytes: 4096, rate: 50)
            #expect(small.ok == 60, "\(small)")
            #expect(small.digestMismatches == 0, "\(small)")

            try await mesh.control("web-a", "fail-rate=0")
            try await mesh.control("web-b", "fail-rate=0")
            let before = try await mesh.served("web-a") + mesh.served("web-b")
            let large = try await mesh.send("/digest", count: 10, method: "POST", bodyBytes: 1 << 20, connections: 1)
            #expect(large.ok == 10, "\(large)")
            #expect(large.digestMismatches == 0, "\(large)")
            // A failing backend: the large body is not retried (one attempt each), the small one is.
            try await mesh.control("web-a", "status=500")
            try await mesh.control("web-b", "status=500")
            let largeFailing = try await mesh.send("/digest", count: 10, method: "POST", bodyBytes: 1 << 20, connections: 1)
            #expect(largeFailing.statuses["500"] == 10, "\(largeFailing)")
            let attempts = try await mesh.served("web-a") + mesh.served("web-b") - before
            #expect(attempts == 20, "\(attempts) attempts for 20 large requests")
        }

        @Test func aBadRouteFileIsReportedWithItsLineAndThePreviousRoutesStay() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"], "web-v2": ["web-b"]], documents: ["route.yaml": Self.split(web: 0, v2: 100)]
            )
            defer { withExtendedLifetime(mesh) {} }
            let before = try await mesh.send("/", count: 50)
            #expect(before.servedBy == ["web-b": 50], "\(before)")
            // A regular expression that does not compile: reported, and the route as it was stays in force.
            try mesh.write(
                "route.yaml",
                Self.route(
                    "web-split",
                    """
                      - matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]
                        backendRefs: [{name: web, port: 8080}]
                    """
                )
            )
            let report = try await mesh.controller.child.waitForLine(containing: "route.yaml:")
            #expect(report.contains("route.yaml:"), "\(report)")
            let after = try await mesh.send("/", count: 50)
            #expect(after.servedBy == ["web-b": 50], "\(after)")
        }

        @Test func aMirrorGetsACopyOfEachRequestWhileSlowOrDownAndTheClientSeesNoDifference() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"], "shadow": ["shadow-a"]], arguments: ["shadow-a": ["--delay", "500"]],
                documents: [
                    "route.yaml": Self.route(
                        "web-mirror",
                        """
                          - filters:
                            - type: RequestMirror
                              requestMirror: {backendRef: {name: shadow, port: 8080}}
                            backendRefs: [{name: web, port: 8080}]
                        """
                    )
                ]
            )
            defer { withExtendedLifetime(mesh) {} }
            // The first request lets discovery learn the mirror's endpoints (a mirror is never sent blind).
            _ = try await mesh.send("/warm", count: 1, connections: 1)
            try await Task.sleep(for: .milliseconds(200))
            let before = try await mesh.served("shadow-a")
            // The mirror answers after 500 ms; the client is answered by web at once.
            let slow = try await mesh.send("/digest", count: 10, method: "POST", bodyBytes: 4096, connections: 2)
            #expect(slow.ok == 10, "\(slow)")
            #expect(slow.servedBy == ["web-a": 10], "\(slow)")
            #expect(slow.maxMilliseconds < 400, "the client waited for the mirror: \(slow)")
            var mirrored = 0
            for _ in 0..<100 {
                mirrored = try await mesh.served("shadow-a") - before
                if mirrored >= 10 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(mirrored == 10, "the mirror got \(mirrored) of 10 requests")

            // The mirror goes down: the client still gets every answer, as fast.
            mesh.upstreams["shadow-a"]!.child.stop()
            _ = try await mesh.upstreams["shadow-a"]!.child.waitForExit()
            let down = try await mesh.send("/", count: 30, connections: 2)
            #expect(down.ok == 30, "\(down)")
            #expect(down.maxMilliseconds < 400, "\(down)")
            #expect(try await mesh.proxy.metric("outbound_http_errors_total") == 0, "a mirror's failures are not the client's")
        }

        @Test(.enabled(if: E2E.required || E2E.hasGRPC))
        func grpcRouteMethodMatchesRouteGRPCCallsAndARequestTimeoutIsDeadlineExceededForGrpcio() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["echo": ["echo-a"], "echo-v2": ["echo-b"]],
                serviceAnnotations: ["echo": "timeout.swiftlet.io/request: 500ms"],
                documents: [
                    "route.yaml": """
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: GRPCRoute
                    metadata: {name: echo-methods, namespace: demo}
                    spec:
                      parentRefs: [{group: core, kind: Service, name: echo, port: 8080}]
                      rules:
                      - matches: [{method: {service: test.Echo, method: Other}}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                      - matches: [{method: {type: RegularExpression, service: 'test\\.Echo', method: '(Unary|Slow)'}}]
                        backendRefs: [{name: echo, port: 8080}]

                    """
                ],
                grpcWorkloads: ["echo-a", "echo-b"]
            )
            defer { withExtendedLifetime(mesh) {} }
            let unary = try await mesh.call("Unary", count: 20, authority: "echo:8080")
            #expect(unary.servedBy == ["echo-a": 20], "\(unary)")
            let other = try await mesh.call("Other", count: 20, authority: "echo:8080")
            #expect(other.servedBy == ["echo-b": 20], "\(other)")
            #expect(
                try await mesh.proxy.metric(
                    "outbound_grpc_route_backend_requests_total", "route_name=\"echo-methods\"", "backend_name=\"echo-v2\"") == 20)
            // A method no rule matches, on a Service with routes: not the Service's to take. The proxy answers as gRPC
            // maps the Gateway API's 404: UNIMPLEMENTED.
            let unmatched = try await mesh.call("Stats", count: 2, authority: "echo:8080")
            #expect(unmatched.codes == ["UNIMPLEMENTED": 2], "\(unmatched)")

            // The Service's request timeout (500 ms) ends a call that takes 2 s: grpcio sees DEADLINE_EXCEEDED, in time.
            let slow = try await mesh.call("Slow", count: 3, authority: "echo:8080")
            #expect(slow.codes == ["DEADLINE_EXCEEDED": 3], "\(slow)")
            #expect(slow.maxMilliseconds < 900, "\(slow)")
            #expect(
                try await mesh.proxy.metric("outbound_grpc_route_request_statuses_total", "grpc_status=\"\"", "error=\"request_timeout\"")
                    == 3)
        }

        @Test func faultInjectionPercentagesHoldWithinTwoPercent() async throws {
            let mesh = try await PolicyMesh.start(
                services: ["web": ["web-a"]],
                documents: [
                    "route.yaml": Self.route(
                        "web-faults",
                        """
                          - filters:
                            - type: ExtensionRef
                              extensionRef: {group: policy.swiftlet.io, kind: FaultInjection, name: flaky}
                            backendRefs: [{name: web, port: 8080}]
                        """
                    )
                        + """

                        ---
                        apiVersion: policy.swiftlet.io/v1alpha1
                        kind: FaultInjection
                        metadata: {name: flaky, namespace: demo}
                        spec:
                          abort: {percent: 20, httpStatus: 503}

                        """
                ]
            )
            defer { withExtendedLifetime(mesh) {} }
            let result = try await mesh.send("/", count: 5000)
            let aborted = Double(result.statuses["503", default: 0]) / 5000
            #expect(abs(aborted - 0.20) <= 0.02, "aborted \(aborted * 100) %: \(result)")
            #expect(result.ok + result.statuses["503", default: 0] == 5000, "\(result)")
            #expect(try await mesh.served("web-a") == result.ok)
        }
    }
}
