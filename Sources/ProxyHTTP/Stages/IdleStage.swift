/// A stage that can sit out whole requests: the first stage of a chain, asked once as a request starts. When it is
/// idle the exchange skips it altogether — none of its hooks is called for that request — so a stage that is
/// usually idle (tap, while no one taps) costs a request one check instead of a call per hook.
public protocol IdleStage: HTTPStage {
    /// Nothing for this stage to do with a request starting now.
    var isIdle: Bool { get }
}
