import NIOCore
import ProxyCore

/// The attempt of an exchange in flight (or its last): where it went, since when, and whether its outcome was told.
/// The endpoint client settles it (`EndpointClient.settle`).
struct ExchangeAttempt {
    var endpoint: ChosenEndpoint?
    /// When it was sent, when something times attempts (a balancer's EWMA, a backend's series); plain traffic reads
    /// no clock for it.
    var started: NIODeadline?
    /// Its outcome went to failure accrual and the stages already.
    var settled = false
    /// It goes upstream over HTTP/2.
    var http2 = false
    /// Retries a stage asked for and the exchange made (the transparent replay of a lost request is not one).
    var retries = 0
    /// The endpoint of the last attempt that failed: a retry avoids it when it can.
    var failed: HostPort?
}
