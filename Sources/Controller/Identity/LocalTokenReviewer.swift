import Foundation

/// Local mode's stand-in for Kubernetes service-account tokens: a directory holding one file per service account,
/// `<directory>/<namespace>/<serviceaccount>`, whose content is the token. The demo writes them; each proxy is
/// given its own file, as a pod is given its projected token.
///
/// Files are read on every review, so a token can be rotated or revoked by rewriting or removing its file.
public struct LocalTokenReviewer: TokenReviewer {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func review(token: [UInt8], serviceAccount: String, namespace: String) async throws(IdentityError) {
        // Both come from a parsed identity name (DNS labels), so they cannot climb out of the directory.
        let path = "\(self.directory)/\(namespace)/\(serviceAccount)"
        guard let expected = FileManager.default.contents(atPath: path) else {
            throw IdentityError(.unauthenticated, "no token is issued to service account \(namespace)/\(serviceAccount)")
        }
        guard Self.constantTimeEqual(Array(Self.trimmed(expected)), Self.trimmed(token)), !token.isEmpty else {
            throw IdentityError(.unauthenticated, "the token is not service account \(namespace)/\(serviceAccount)'s")
        }
    }

    /// A token file may end with a newline.
    static func trimmed<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        var result = Array(bytes)
        while let last = result.last, last == 10 || last == 13 || last == 32 { result.removeLast() }
        return result
    }

    /// Compares without stopping at the first difference, so timing says nothing of how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
