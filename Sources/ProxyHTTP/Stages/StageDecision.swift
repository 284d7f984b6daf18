import MeshModel
import NIOCore
import ProxyCore

/// What a stage decides about a request.
public enum StageDecision {
    /// On to the next stage (and then to the balancer).
    case proceed
    /// On, within these bounds: the whole exchange (`request`, from its arrival), its quiet spells (`idle`), each
    /// try's wait for its response head (`backendRequest`).
    case bounded(RouteTimeouts)
    /// On, through `chain`: its stages run after this chain's, and its balancer (if it has one) takes the attempts
    /// — a route's rule, the backend a split picked.
    case branch(StageChain)
    /// Answer the request with this response; nothing goes upstream.
    case respond(HTTPResponseHead, body: ByteBuffer?)
    /// Answer with the error's status and `swiftlet-proxy-error` (in gRPC's terms for a gRPC call).
    case fail(ProxyError)
    /// Not yet: the stage waits for something (a first answer from the controller, an injected delay) and the
    /// exchange asks it again when `Exchange.resumeStages()` is called or at `deadline`, whichever comes first.
    case suspend(until: NIODeadline)
}
