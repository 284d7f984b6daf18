/// The key to one stage's per-exchange state, typed: the stage that makes the key is the only one that reads or
/// writes what is kept under it (`Exchange.slots[key]`), as linkerd2-proxy's layers keep theirs in a request's
/// typed extensions.
public final class StageSlot<Value: AnyObject>: Sendable {
    public init() {}
}
