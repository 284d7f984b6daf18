import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOSSL
import SwiftletAPI
import Synchronization

/// The tap service: turns one `TapByResourceRequest` into Observe calls on each of the target's meshed pods'
/// proxies — over mTLS, as the tap identity, asking for the proxy's own identity by name — and merges what they
/// stream into one stream for the caller (`TapAPIServer` carries it over HTTP).
///
/// A pod that cannot be reached, or refuses, is said in the stream (an event with `error` and `proxy`) while the
/// others go on: one crash-looping pod does not end a tap of its Deployment.
public final class TapService: Sendable {
    let index: ClusterIndex
    let identity: MeshIdentity
    /// The tap identity's certificate (renewed with the issuer) and the anchors proxies are checked against.
    let certificate: ServingCertificate?
    let authority: CertificateAuthority?
    let logger: Logger

    /// What `--max-rps` means when the request leaves it 0 (Linkerd's default).
    public static let defaultMaxRPS = 100

    public init(index: ClusterIndex, identity: MeshIdentity, authority: CertificateAuthority?, logger: Logger) throws {
        self.index = index
        self.identity = identity
        self.authority = authority
        self.certificate = try authority.map { try ServingCertificate(authority: $0, name: identity.tapServiceName) }
        self.logger = logger
    }

    /// A tap ready to run: its pods resolved now, so that what cannot be tapped is refused before any event.
    public struct Session: Sendable {
        public var pods: [TapPod]
        /// Pods of the target that cannot be tapped, said at the start of the stream.
        public var skipped: [String]
        public var observe: Swiftlet_Tap_V1_ObserveRequest
        public var maxRPS: Int
        var workloads: [WorkloadSpec]
    }

    public func prepare(_ request: Swiftlet_Tap_V1_TapByResourceRequest) throws(TapError) -> Session {
        let workloads = Array(self.index.snapshot.workloads.values)
        let selector = try TapTargetResolver.labelSelector(request.labelSelector)
        let (pods, skipped) = try TapTargetResolver.pods(request.target, selector: selector, in: workloads, identity: self.identity)
        var observe = Swiftlet_Tap_V1_ObserveRequest()
        // The proxy ends a stream after `limit` requests; a tap runs until its caller stops it.
        observe.limit = UInt32.max
        let maxRPS = request.maxRps == 0 ? Self.defaultMaxRPS : Int(request.maxRps)
        observe.maxRps = UInt32(TapRateWindow.share(maxRPS, pods: pods.count))
        var matches: [Swiftlet_Tap_V1_ObserveRequest.Match] = []
        if request.hasMatch { matches.append(request.match) }
        if let to = try TapTargetResolver.destinationMatch(request.to) { matches.append(to) }
        if let match = TapTargetResolver.all(matches) { observe.match = match }
        if request.hasExtract { observe.extract = request.extract }
        observe.tcp = request.tcp
        return Session(pods: pods, skipped: skipped, observe: observe, maxRPS: maxRPS, workloads: workloads)
    }

    /// Streams `session`'s events to `emit` until every pod's stream has ended, or `emit` throws (the caller left).
    public func run(_ session: Session, emit: @escaping @Sendable (Swiftlet_Tap_V1_TapByResourceEvent) async throws -> Void) async throws {
        for line in session.skipped {
            try await emit(Swiftlet_Tap_V1_TapByResourceEvent.with { $0.error = line })
        }
        let merge = SharedMerge(TapEventMerge(maxRPS: session.maxRPS, workloads: session.workloads, identity: self.identity))
        let clock = ContinuousClock()
        let origin = clock.now
        try await withThrowingDiscardingTaskGroup { group in
            for pod in session.pods {
                group.addTask {
                    do {
                        try await self.observe(pod, session.observe) { event in
                            if let merged = merge.state.withLock({ $0.accept(event, from: pod, at: clock.now - origin) }) {
                                try await emit(merged)
                            }
                        }
                    } catch let error as TapCallerGone {
                        throw error
                    } catch {
                        self.logger.info("a proxy's tap ended", metadata: ["pod": "\(pod.name)", "error": "\(error)"])
                        try await emit(
                            Swiftlet_Tap_V1_TapByResourceEvent.with {
                                $0.proxy = pod.name
                                $0.error = "pod \(pod.name): \(Self.describe(error))"
                            })
                    }
                }
            }
        }
    }

    /// One pod's Observe, each event handed to `handle`.
    func observe(
        _ pod: TapPod, _ request: Swiftlet_Tap_V1_ObserveRequest,
        handle: @escaping @Sendable (Swiftlet_Tap_V1_TapEvent) async throws -> Void
    ) async throws {
        let security = try self.security()
        func transport(_ target: some ResolvableTarget) throws -> HTTP2ClientTransport.Posix {
            try HTTP2ClientTransport.Posix(
                target: target, transportSecurity: security,
                // The proxy's identity: the TLS server name asked for, and checked in its certificate.
                config: .defaults { $0.http2.authority = pod.identity })
        }
        let transport =
            pod.address.contains(":")
            ? try transport(.ipv6(address: pod.address, port: pod.tapPort)) : try transport(.ipv4(address: pod.address, port: pod.tapPort))
        try await withGRPCClient(transport: transport) { client in
            var options = CallOptions.defaults
            // An unreachable proxy fails the call at once rather than waiting for it to appear.
            options.waitForReady = false
            try await Swiftlet_Tap_V1_Tap.Client(wrapping: client).observe(request, options: options) { response in
                for try await event in response.messages {
                    do {
                        try await handle(event)
                    } catch {
                        throw TapCallerGone()
                    }
                }
            }
        }
    }

    /// mTLS as the tap identity when the mesh has identity; plaintext otherwise (a mesh without identity has no
    /// tap identity to present, and its proxies answer tap on loopback only).
    func security() throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let certificate = self.certificate, let authority = self.authority else { return .plaintext }
        let anchors = try authority.credentials.trustAnchors.map { TLSConfig.CertificateSource.bytes(try $0.derBytes, format: .der) }
        return try .mTLS(certificateReloader: certificate) { tls in
            tls.trustRoots = .certificates(anchors)
            tls.serverCertificateVerification = .fullVerification
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let rpc = error as? RPCError else { return "\(error)" }
        switch rpc.code {
        case .unauthenticated: return "its proxy refused the tap service's identity (\(rpc.message))"
        case .unavailable: return "its proxy's tap server cannot be reached (\(rpc.message))"
        default: return "\(rpc.code): \(rpc.message)"
        }
    }
}

/// The merge, shared by the session's pod tasks.
private final class SharedMerge: Sendable {
    let state: Mutex<TapEventMerge>
    init(_ merge: TapEventMerge) { self.state = Mutex(merge) }
}

/// The caller stopped reading: the tap ends rather than being reported as a pod's failure.
struct TapCallerGone: Error {}
