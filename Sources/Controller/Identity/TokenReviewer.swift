/// Checks that a token proves a service account: the one question the identity service asks before signing.
///
/// Local mode reads token files (`LocalTokenReviewer`); on Kubernetes a TokenReview answers it (audience
/// `identity.swiftlet.io`). The identity service knows only this protocol.
public protocol TokenReviewer: Sendable {
    /// Returns if `token` was issued to `serviceAccount` in `namespace`; throws `IdentityError(.unauthenticated)`
    /// otherwise.
    func review(token: [UInt8], serviceAccount: String, namespace: String) async throws(IdentityError)
}
