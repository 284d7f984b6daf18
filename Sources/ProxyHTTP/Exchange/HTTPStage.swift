import NIOCore
import ProxyCore

/// One job on the request path (DESIGN §3): metrics, later a route table, a timeout, a retry policy, tap,
/// authorization. Stages are built once per destination and loop, and every exchange to that destination passes
/// through them in order; a stage a destination does not need is not in its chain at all.
///
/// Every method has a default that passes on, so a stage implements only what it is for. Per-exchange state lives
/// on the `Exchange` (its `stageState`), never on the stage, which many exchanges share.
public protocol HTTPStage: AnyObject {
    /// The request head, before any upstream is chosen, in chain order. The stage may change it, answer the request
    /// itself (the stages after it never see it), or ask for the body to be kept for a retry.
    func request(_ exchange: Exchange) -> StageDecision
    /// The endpoint an attempt goes to (the balancer picked it), in chain order.
    func endpointChosen(_ endpoint: ChosenEndpoint, _ exchange: Exchange)
    /// The upstream's response head, before it goes downstream, in reverse chain order: pass it on (possibly
    /// changed), or try again.
    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict
    /// An attempt failed before any response, in reverse chain order: pass the failure on, or try again.
    func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict
    /// The exchange is over (answered, failed or cut), in reverse chain order.
    func finished(_ exchange: Exchange)
}

extension HTTPStage {
    public func request(_ exchange: Exchange) -> StageDecision { .proceed }
    public func endpointChosen(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {}
    public func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict { .pass }
    public func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict { .pass }
    public func finished(_ exchange: Exchange) {}
}

public enum StageDecision {
    /// On to the next stage (and then to the balancer).
    case proceed
    /// Answer the request with this response; nothing goes upstream.
    case respond(HTTPResponseHead, body: ByteBuffer?)
    /// Answer with the error's status and `swiftlet-proxy-error`.
    case fail(ProxyError)
    /// Not yet: the stage waits for something (a first answer from the controller, an injected delay) and calls
    /// `Exchange.resumeStages()` when it is in; the exchange then asks this stage again.
    case suspend
}

public enum StageVerdict: Equatable {
    case pass
    /// Send the request again, to an endpoint the balancer picks anew (only if its body was kept; see
    /// `Exchange.retainBody`), after `Exchange.retryDelay` if a stage set one.
    case retry
}

/// Where one attempt of an exchange goes.
public struct ChosenEndpoint {
    public var target: TrafficTarget
    /// Discovery's `dst_*` labels of the endpoint.
    public var labels: [MetricLabel]
    /// The balancer's view of the endpoint, told the outcome.
    public var load: EndpointLoad?
}

/// The stages of one destination, in order.
public final class StageChain {
    public let stages: [any HTTPStage]

    public init(_ stages: [any HTTPStage]) {
        self.stages = stages
    }
}

@available(*, unavailable)
extension StageChain: Sendable {}

/// What a chain is built for: the traffic's direction and the destination's name as routing knows it.
public struct StageTarget: Hashable, Sendable {
    public var direction: TrafficDirection
    /// The discovery key or the authority (`host:port`) of the destination.
    public var name: String
    /// `name` is a discovery key: the controller knows it, and may have a policy for it.
    public var discovered: Bool

    public init(direction: TrafficDirection, name: String, discovered: Bool = false) {
        self.direction = direction
        self.name = name
        self.discovered = discovered
    }
}

/// Builds a destination's chain, on the loop that will use it. The proxy's own builder adds metrics; tests and later
/// features add theirs here, one line each.
public struct StageChainBuilder: Sendable {
    public let make: @Sendable (StageTarget, MetricsShard) -> [any HTTPStage]

    public init(make: @escaping @Sendable (StageTarget, MetricsShard) -> [any HTTPStage]) {
        self.make = make
    }

    /// What every proxy runs today: request and response metrics.
    public static let standard = StageChainBuilder { target, shard in [MetricsStage(shard: shard)] }

    /// The standard stages, then `extra` (after metrics, so what the extra stages answer is counted).
    public static func standard(then extra: @escaping @Sendable (StageTarget) -> [any HTTPStage]) -> StageChainBuilder {
        StageChainBuilder { target, shard in [MetricsStage(shard: shard)] + extra(target) }
    }
}
