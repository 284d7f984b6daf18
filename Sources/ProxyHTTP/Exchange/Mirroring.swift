/// An exchange's part in RequestMirror.
enum Mirroring {
    case none
    /// The original: the copies it feeds the request's body to.
    case original([Exchange])
    /// A copy, nobody downstream, its failures not the proxy's errors: the body bytes it was given so far.
    case copy(bytes: Int)
}
