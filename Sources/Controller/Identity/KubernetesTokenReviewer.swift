import Kubernetes

/// On Kubernetes: asks the API server (a `TokenReview` with audience `identity.swiftlet.io`) whether the proxy's
/// projected ServiceAccount token is valid, and takes the ServiceAccount it names only if it is the one the proxy
/// asks an identity for. A token of another account, another audience, or an expired one is refused.
public struct KubernetesTokenReviewer: TokenReviewer {
    public static let audience = "identity.swiftlet.io"
    let client: KubernetesClient

    public init(client: KubernetesClient) {
        self.client = client
    }

    public func review(token: [UInt8], serviceAccount: String, namespace: String) async throws(IdentityError) {
        guard !token.isEmpty, let text = String(validating: token, as: UTF8.self) else {
            throw IdentityError(.unauthenticated, "the token is empty or not text")
        }
        let answer: TokenReview
        do {
            answer = try await self.client.post(TokenReview.path, TokenReview(token: text, audiences: [Self.audience]))
        } catch {
            throw IdentityError(.unavailable, "cannot review the token: \(error)")
        }
        guard let status = answer.status, status.authenticated == true, let username = status.user?.username else {
            throw IdentityError(.unauthenticated, "the token was refused: \(answer.status?.error ?? "not authenticated")")
        }
        if let audiences = status.audiences, !audiences.contains(Self.audience) {
            throw IdentityError(.unauthenticated, "the token is not meant for \(Self.audience)")
        }
        let expected = "system:serviceaccount:\(namespace):\(serviceAccount)"
        guard username == expected else {
            throw IdentityError(.unauthenticated, "the token is \(username)'s, not \(expected)'s")
        }
    }
}
