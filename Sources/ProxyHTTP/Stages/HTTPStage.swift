import NIOCore
import ProxyCore

/// One job on the request path (DESIGN §3): authorization, tap, metrics, the route, the split, timeouts, retries.
/// A stage is built once per destination (or route rule, or backend) and loop by `StageChainBuilder`, which alone
/// decides the order; every exchange that goes there passes through it. A stage a destination does not need is not
/// in its chain at all.
///
/// The contract, as linkerd2-proxy's layers keep theirs: a stage never writes the exchange's state machine, its
/// destination or another stage's state. What it decides it returns (`StageDecision`, `StageVerdict`); what it must
/// remember about one exchange it keeps in a typed slot it owns (`StageSlot`, `Exchange.slots`), since many
/// exchanges share the stage. Every method has a default that passes on, so a stage implements only what it is for.
public protocol HTTPStage: AnyObject {
    /// This stage may ask for the request again (`StageVerdict.retry`): exchanges through it keep their body (up to
    /// 64 KiB) for the replay. Read once, when the chain is built.
    var replaysRequests: Bool { get }
    /// This stage wants `attemptEnded` with each attempt's duration: attempts through its chain are timed (plain
    /// traffic reads no clock for them). Read once, when the chain is built.
    var timesAttempts: Bool { get }
    /// What tap says of a request this stage answered itself (`.respond`): `fault`, `redirect`. Read only then.
    var answerKind: String { get }
    /// The request head, before any upstream is chosen, in chain order. The stage may change it, answer the request
    /// itself (the stages after it never see it), wait, bound the exchange's time, or send it on to another chain.
    func request(_ exchange: Exchange) -> StageDecision
    /// An attempt goes to `endpoint` (the balancer picked it), in chain order.
    func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange)
    /// The attempt's outcome, once, with its duration (`nanoseconds`, from the attempt's start), in reverse order;
    /// told when the attempt was timed (a stage `timesAttempts`, or the balancer is discovery's).
    func attemptEnded(_ outcome: RouteOutcome, nanoseconds: Int64, _ exchange: Exchange)
    /// The upstream's response head, before it goes downstream, in reverse chain order: pass it on (possibly
    /// changed), or try again.
    func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict
    /// An attempt failed before any response, in reverse chain order: pass the failure on, or try again.
    func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict
    /// The exchange is over (answered, failed or cut), in reverse chain order.
    func finished(_ exchange: Exchange)
}

extension HTTPStage {
    public var replaysRequests: Bool { false }
    public var timesAttempts: Bool { false }
    public var answerKind: String { "proxy" }
    public func request(_ exchange: Exchange) -> StageDecision { .proceed }
    public func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {}
    public func attemptEnded(_ outcome: RouteOutcome, nanoseconds: Int64, _ exchange: Exchange) {}
    public func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict { .pass }
    public func failure(_ error: ProxyError, _ exchange: Exchange) -> StageVerdict { .pass }
    public func finished(_ exchange: Exchange) {}
}
