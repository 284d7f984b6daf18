import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import SwiftletAPI
import X509

/// `swiftlet.identity.v1.Identity`: checks the token, then has the authority sign the CSR.
public struct IdentityService: Swiftlet_Identity_V1_Identity.SimpleServiceProtocol {
    let authority: CertificateAuthority
    let reviewer: (any TokenReviewer)?
    let metrics: ControllerMetrics
    let logger: Logger

    public init(authority: CertificateAuthority, reviewer: (any TokenReviewer)?, metrics: ControllerMetrics, logger: Logger) {
        self.authority = authority
        self.reviewer = reviewer
        self.metrics = metrics
        self.logger = logger
    }

    public func certify(request: Swiftlet_Identity_V1_CertifyRequest, context: ServerContext) async throws
        -> Swiftlet_Identity_V1_CertifyResponse
    {
        do {
            let issued = try await self.issue(request)
            self.metrics.certificateIssued()
            self.logger.debug("certified", metadata: ["identity": "\(request.identity)", "peer": "\(context.remotePeer)"])
            return try Self.response(issued)
        } catch let error as IdentityError {
            self.metrics.certificateRefused()
            self.logger.warning(
                "certification refused",
                metadata: ["identity": "\(request.identity)", "peer": "\(context.remotePeer)", "error": "\(error)"])
            // The status carries the code; the message is the reason alone (the proxy prints "<code>: <message>").
            throw RPCError(code: Self.status(error.code), message: error.message)
        }
    }

    func issue(_ request: Swiftlet_Identity_V1_CertifyRequest) async throws(IdentityError) -> CertificateAuthority.Issued {
        guard let (serviceAccount, namespace) = self.authority.identity.parse(request.identity) else {
            throw IdentityError(.invalidIdentity, "\"\(request.identity)\" is not an identity of this mesh")
        }
        guard let reviewer = self.reviewer else {
            throw IdentityError(.unauthenticated, "this controller has no way to check tokens (start it with --identity-tokens)")
        }
        try await reviewer.review(token: Array(request.token), serviceAccount: serviceAccount, namespace: namespace)
        return try self.authority.certify(request.identity, csrDER: Array(request.certificateSigningRequest))
    }

    static func response(_ issued: CertificateAuthority.Issued) throws -> Swiftlet_Identity_V1_CertifyResponse {
        var response = Swiftlet_Identity_V1_CertifyResponse()
        response.leafCertificate = Data(try issued.leaf.derBytes)
        response.intermediateCertificates = try issued.chain.map { Data(try $0.derBytes) }
        response.trustAnchors = try issued.trustAnchors.map { Data(try $0.derBytes) }
        response.validUntil = Google_Protobuf_Timestamp(timeIntervalSince1970: issued.notValidAfter.timeIntervalSince1970)
        return response
    }

    static func status(_ code: IdentityError.Code) -> RPCError.Code {
        switch code {
        case .unauthenticated: .unauthenticated
        case .invalidIdentity, .invalidRequest: .invalidArgument
        case .unavailable: .unavailable
        default: .internalError
        }
    }
}
