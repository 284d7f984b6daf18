import NIOCore

/// What a stage says of a response head or a failure.
public enum StageVerdict: Equatable {
    case pass
    /// Send the request again, to an endpoint the balancer picks anew, after `after` (a backoff). Only a stage that
    /// `replaysRequests` may ask; the exchange declines when the body was too large to keep.
    case retry(after: TimeAmount)
}
