import GRPCCore
import Logging
import MeshModel
import ServiceLifecycle
import SwiftletAPI

/// `swiftlet.policy.v1.OutboundPolicies`: `Watch`, one stream per proxy for every Service port it sends traffic to.
/// Each answer is the port's whole policy, sent when it changes; a slow proxy skips to the newest.
public struct PolicyService: Swiftlet_Policy_V1_OutboundPolicies.SimpleServiceProtocol {
    let index: ClusterIndex
    let metrics: ControllerMetrics
    let logger: Logger

    public init(index: ClusterIndex, metrics: ControllerMetrics, logger: Logger) {
        self.index = index
        self.metrics = metrics
        self.logger = logger
    }

    public func watch(
        request: RPCAsyncSequence<Swiftlet_Policy_V1_WatchRequest, any Error>,
        response: RPCWriter<Swiftlet_Policy_V1_WatchUpdate>,
        context: ServerContext
    ) async throws {
        let index = self.index
        let metrics = self.metrics
        try await WatchStream<ServicePolicy?>(metrics: metrics, api: .policy).run(requests: request) { message in
            switch message.kind {
            case .subscribe(let subscribe)?:
                return .subscribe(id: subscribe.id) { deliver in
                    guard
                        let authority = DestinationService.authority(
                            subscribe.authority, contextNamespace: subscribe.contextNamespace, in: index)
                    else {
                        deliver(nil)  // not a Service port: no policy, and none will come
                        return nil
                    }
                    // The proxy's namespace: consumer routes there apply to it alone.
                    let client = subscribe.contextNamespace.isEmpty ? nil : subscribe.contextNamespace
                    return index.subscribePolicy(authority, clientNamespace: client, deliver)
                }
            case .unsubscribe(let id)?: return .unsubscribe(id: id)
            case nil: return nil
            }
        } write: { id, next in
            guard let policy = next else { return }  // unsubscribed
            try await response.write(
                .with {
                    $0.id = id
                    if let policy { $0.policy = PolicyMessages.message(policy) }
                })
            metrics.updateSent()
        }
    }
}
