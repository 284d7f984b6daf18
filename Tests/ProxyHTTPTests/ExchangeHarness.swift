import Logging
import MeshModel
import NIOCore
import NIOEmbedded
import ProxyCore
import ProxyTransport
import Synchronization

@testable import ProxyHTTP

/// An `Exchange` driven without sockets, as linkerd2-proxy tests its layers against a mock inner service: on an
/// `EmbeddedEventLoop` (whose clock only moves when the test says), between a recording downstream and scripted
/// upstreams, with discovery and the Policy API as entries the test publishes into. Every stage runs as in the
/// proxy: the chain is the loop's own.
final class ExchangeHarness {
    let loop = EmbeddedEventLoop()
    let upstreams: ScriptedUpstreams
    let discovery = PublishedDiscovery()
    let policies = PublishedPolicies()
    let resources: LoopContext
    let connection: ConnectionContext

    /// The authority requests go to, and the Service it names (`web` in `demo`, port 8080).
    static let authority = "web.demo.svc.cluster.local:8080"

    /// `policy`: publish "no policy" for the Service port (a test that wants the Policy API silent says false).
    init(
        script: @escaping ScriptedUpstreams.Script = { _, _ in .respond(200) }, http2: Bool = false,
        chainBuilder: StageChainBuilder = .standard,
        publishNoPolicy: Bool = true
    ) {
        self.upstreams = ScriptedUpstreams(loop: self.loop, script: script)
        var config = ProxyConfig()
        config.mode = .explicit
        let connector = UpstreamConnector(connectTimeout: .seconds(1), loopGuard: LoopGuard(listeners: [], localIPs: []))
        self.resources = LoopContext(
            eventLoop: self.loop, config: config, connector: connector, discovery: self.discovery, meshTLS: nil, policies: self.policies,
            accrualBoard: AccrualBoard(), chainBuilder: chainBuilder, upstreams: self.upstreams
        )
        self.connection = ConnectionContext(
            direction: .outbound, destination: nil, router: TargetResolver(config: config), resources: self.resources,
            tls: .notProvidedByDiscovery,
            isHTTP2: http2, responseTimeout: nil, logger: Logger(label: "harness")
        )
        // No policy until a test gives one: the Service port goes by its endpoints.
        if publishNoPolicy { self.policies.policy(for: Self.authority).publish(.none) }
    }

    /// The Service's endpoints (`10.0.0.1:8080`, …) as discovery answers them.
    func endpoints(_ count: Int, authority: String = ExchangeHarness.authority) {
        let endpoints = (1...max(count, 1)).prefix(count).map { DiscoveredEndpoint(address: HostPort(host: "10.0.0.\($0)", port: 8080)) }
        self.discovery.entry(for: authority).publish(.endpoints(endpoints))
    }

    /// The Service port's policy as the Policy API answers it.
    func policy(_ policy: ServicePolicy, authority: String = ExchangeHarness.authority) {
        self.policies.policy(for: authority).publish(.policy(CompiledPolicy(policy)))
    }

    /// A Service port without routes: its own default rule, with `retry` and `timeouts` as the Service's
    /// annotations would give.
    static func servicePolicy(
        retry: RouteRetry? = nil, timeouts: RouteTimeouts = RouteTimeouts(), routes: [Route] = [], accrual: FailureAccrual? = nil,
        budget: RetryBudget.Settings? = nil
    ) -> ServicePolicy {
        ServicePolicy(
            namespace: "demo", name: "web", port: 8080, routes: routes,
            defaultRule: RouteRule(
                matches: .http([]), backends: [RouteBackend(namespace: "demo", name: "web", port: 8080)], timeouts: timeouts, retry: retry),
            accrual: accrual, budget: budget
        )
    }

    /// Another Service's endpoints (`v2` → `web-v2.demo…`, at 10.0.2.x).
    func endpoints(_ count: Int, service: String, subnet: Int) {
        let endpoints = (1...count).map { DiscoveredEndpoint(address: HostPort(host: "10.0.\(subnet).\($0)", port: 8080)) }
        self.discovery.entry(for: "\(service).demo.svc.cluster.local:8080").publish(.endpoints(endpoints))
    }

    /// Sends one request (its body in `body` parts) and runs the loop until nothing is left to do now.
    @discardableResult
    func send(
        _ method: String = "GET", _ path: String = "/", authority: String = ExchangeHarness.authority, fields: [(String, String)] = [],
        body: [ByteBuffer] = []
    ) -> RecordingDownstream {
        var headFields = HTTPFields()
        for (name, value) in fields { headFields.add(name, value) }
        let head = HTTPRequestHead(
            method: method, authority: authority, path: path,
            version: self.connection.isHTTP2 ? HTTPVersionNumber(major: 2, minor: 0) : .http1_1, fields: headFields)
        let downstream = RecordingDownstream(isHTTP2: self.connection.isHTTP2)
        let framing: BodyFraming = body.isEmpty ? .none : .length(body.reduce(0) { $0 + $1.readableBytes })
        let exchange = Exchange(connection: self.connection, downstream: downstream, head: head, body: framing, upgrade: false)
        downstream.exchange = exchange
        exchange.start()
        for part in body { exchange.requestBodyReceived(part) }
        exchange.requestEndReceived(nil)
        self.loop.run()
        return downstream
    }

    /// Runs what is due now (what a publication woke, say).
    func run() {
        self.loop.run()
    }

    /// Moves the clock on, running what falls due.
    func advance(_ amount: TimeAmount) {
        self.loop.advanceTime(by: amount)
        self.loop.run()
    }

    /// This loop's metrics as `/metrics` renders them.
    func metrics() -> String {
        var out = ""
        self.resources.metrics.snapshot().render(into: &out)
        return out
    }

    /// The sum of a family's samples whose labels contain every fragment.
    func metric(_ family: String, _ matching: String...) -> Double {
        var total = 0.0
        for line in self.metrics().split(separator: "\n") where line.hasPrefix(family + "{") || line.hasPrefix(family + " ") {
            guard matching.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else {
                continue
            }
            total += value
        }
        return total
    }
}

/// The downstream side as the exchange drives it, recorded.
final class RecordingDownstream: ExchangeDownstream {
    let isHTTP2: Bool
    var isWritable = true
    /// Held until the exchange finishes, as a connection handler holds its exchange.
    var exchange: Exchange?
    var head: HTTPResponseHead?
    var body = ByteBuffer()
    var trailers: HTTPFields?
    var ended = false
    var finished = false
    var aborted = false

    init(isHTTP2: Bool) { self.isHTTP2 = isHTTP2 }

    var status: Int? { self.head?.status }
    var proxyError: String? { self.head?.fields.first("swiftlet-proxy-error") }

    func writeResponseHead(_ head: HTTPResponseHead, endStream: Bool) {
        if head.status >= 200 { self.head = head }
        if endStream { self.ended = true }
    }
    func writeResponseBody(_ bytes: ByteBuffer) {
        var bytes = bytes
        self.body.writeBuffer(&bytes)
    }
    func writeResponseEnd(_ trailers: HTTPFields?) {
        self.trailers = trailers
        self.ended = true
    }
    func flushResponse() {}
    func pauseRequest(_ paused: Bool) {}
    func exchangeFinished(requestComplete: Bool) {
        self.finished = true
        self.exchange = nil
    }
    func abortResponse() { self.aborted = true }
    func switchToTunnel(with upstream: any ExchangeUpstream) {}
}

/// Upstreams that answer as the test's script says, each attempt in turn: the script sees the attempt's number
/// (from 1) and where it went, and says what that attempt meets.
final class ScriptedUpstreams: UpstreamOpener {
    enum Answer {
        /// A response with this status (and `grpc-status` in a trailers-only head, when given), after `after`.
        case respond(Int, grpcStatus: Int? = nil, after: TimeAmount = .zero)
        /// The connection fails with this error (refused, reset, …).
        case fail(ProxyError.Code)
        /// Nothing ever comes back.
        case hang
        /// The response head with this status comes, then nothing more.
        case headThenHang(Int)
        /// The response head with this status and a first part of the body come, then the connection is reset.
        case headThenReset(Int)
    }
    typealias Script = (_ attempt: Int, _ target: TrafficTarget) -> Answer

    let loop: EmbeddedEventLoop
    let script: Script
    /// Every attempt: where it went, and what it sent (filled in as the request is written).
    private(set) var attempts: [ScriptedUpstream] = []

    init(loop: EmbeddedEventLoop, script: @escaping Script) {
        self.loop = loop
        self.script = script
    }

    var targets: [HostPort] { self.attempts.map(\.target.endpoint) }

    func open(
        _ target: TrafficTarget, http2: Bool, direction: TrafficDirection, tls: TLSLabel, upstreamTLS: UpstreamTLS?,
        completion: @escaping (Result<any ExchangeUpstream, ProxyError>) -> Void
    ) {
        let answer = self.script(self.attempts.count + 1, target)
        let upstream = ScriptedUpstream(target: target, answer: answer, loop: self.loop)
        self.attempts.append(upstream)
        // As a real connection does: the outcome comes later, from the loop.
        self.loop.execute {
            if case .fail(let code) = answer {
                completion(.failure(ProxyError(code, "scripted")))
            } else {
                completion(.success(upstream))
            }
        }
    }
}

/// One scripted attempt: records the request, and answers once the request has ended.
final class ScriptedUpstream: ExchangeUpstream {
    let target: TrafficTarget
    let answer: ScriptedUpstreams.Answer
    let loop: EmbeddedEventLoop
    weak var exchange: Exchange?
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    var ended = false
    var released: Bool?
    let isReused = false
    let isWritable = true

    init(target: TrafficTarget, answer: ScriptedUpstreams.Answer, loop: EmbeddedEventLoop) {
        self.target = target
        self.answer = answer
        self.loop = loop
    }

    func attach(_ exchange: Exchange) { self.exchange = exchange }
    func writeRequestHead(_ head: HTTPRequestHead, endStream: Bool) {
        self.head = head
        if endStream { self.requestEnded() }
    }
    func writeRequestBody(_ bytes: ByteBuffer) {
        var bytes = bytes
        self.body.writeBuffer(&bytes)
    }
    func writeRequestEnd(_ trailers: HTTPFields?) { self.requestEnded() }
    func flushRequest() {}
    func pauseResponse(_ paused: Bool) {}
    func release(reusable: Bool) { self.released = reusable }
    func joinTunnel(_ glue: GlueHandler) -> Bool { false }

    private func requestEnded() {
        guard !self.ended else { return }
        self.ended = true
        switch self.answer {
        case .headThenHang(let status), .headThenReset(let status):
            let reset: Bool = if case .headThenReset = self.answer { true } else { false }
            self.loop.execute { [weak self] in
                guard let self, let exchange = self.exchange, self.released == nil else { return }
                exchange.responseHeadReceived(HTTPResponseHead(status: status, fields: HTTPFields()), endStream: false)
                exchange.responseBodyReceived(ByteBuffer(string: "a first part"))
                if reset { exchange.upstreamFailed(ProxyError(.connectionReset, "scripted reset")) }
            }
            return
        default:
            break
        }
        guard case .respond(let status, let grpcStatus, let after) = self.answer else { return }
        _ = self.loop.scheduleTask(in: after) { [weak self] in
            guard let self, let exchange = self.exchange, self.released == nil else { return }
            var fields = HTTPFields()
            if let grpcStatus {
                fields.add("content-type", "application/grpc")
                fields.add("grpc-status", String(grpcStatus))
                exchange.responseHeadReceived(HTTPResponseHead(status: status, fields: fields), endStream: true)
                return
            }
            let body = ByteBuffer(string: "\(self.target.endpoint)\n")
            fields.add("content-length", String(body.readableBytes))
            exchange.responseHeadReceived(HTTPResponseHead(status: status, fields: fields), endStream: false)
            exchange.responseBodyReceived(body)
            exchange.responseEndReceived(nil)
        }
    }
}

/// Discovery as the entries a test publishes into.
final class PublishedDiscovery: DestinationLookup {
    private let entries = Mutex<[String: DestinationEntry]>([:])

    func entry(for authority: String) -> DestinationEntry {
        self.entries.withLock { entries in
            if let known = entries[authority] { return known }
            let created = DestinationEntry(authority: authority, now: 0)
            entries[authority] = created
            return created
        }
    }
}

/// The Policy API as the entries a test publishes into.
final class PublishedPolicies: PolicyLookup {
    private let entries = Mutex<[String: PolicyEntry]>([:])

    func policy(for authority: String) -> PolicyEntry {
        self.entries.withLock { entries in
            if let known = entries[authority] { return known }
            let created = PolicyEntry(authority: authority, now: 0)
            entries[authority] = created
            return created
        }
    }
}
