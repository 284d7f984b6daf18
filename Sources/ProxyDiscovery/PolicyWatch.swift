import MeshModel
import NIOCore
import ProxyCore

/// The Policy API (`swiftlet.policy.v1.OutboundPolicies/Watch`): each answer is a Service port's whole policy,
/// compiled here once (route table, splits) for every loop to share.
public struct PolicyWatch: WatchAPI {
    public static let path = PolicyWatchMessages.watchPath
    public static let subject = "policies"
    let namespace: String

    public init(_ configuration: WatchClientConfiguration) {
        self.namespace = configuration.namespace
    }

    public func subscribe(id: UInt64, authority: String) -> ByteBuffer {
        PolicyWatchMessages.subscribe(id: id, authority: authority, namespace: self.namespace)
    }

    public func unsubscribe(id: UInt64) -> ByteBuffer {
        PolicyWatchMessages.unsubscribe(id: id)
    }

    public func makeStreamState() {}

    public func receive(_ message: ByteBuffer, into state: inout Void, entry: (UInt64) -> PolicyEntry?) throws {
        let update = try PolicyWatchMessages.update(message)
        guard let entry = entry(update.id) else { return }
        entry.publish(update.policy.map { .policy(CompiledPolicy($0)) } ?? .none)
    }
}

/// The proxy's Policy client: one `Watch` stream to the controller, subscribed to each Service port in use.
public typealias PolicyClient = WatchClient<PolicyWatch>

extension WatchClient: PolicyLookup where API == PolicyWatch {
    public func policy(for authority: String) -> PolicyEntry { self.entry(for: authority) }
}
