import NIOCore
import ProxyCore

/// The Destination API (`swiftlet.destination.v1.Destination/Watch`): endpoints per authority, as deltas on what
/// the stream said before.
public struct DestinationWatch: WatchAPI {
    public static let path = DestinationMessages.watchPath
    public static let subject = "destinations"
    let namespace: String
    let workload: String

    public init(_ configuration: WatchClientConfiguration) {
        self.namespace = configuration.namespace
        self.workload = configuration.workload
    }

    public func subscribe(id: UInt64, authority: String) -> ByteBuffer {
        DestinationMessages.subscribe(id: id, authority: authority, namespace: self.namespace, workload: self.workload)
    }

    public func unsubscribe(id: UInt64) -> ByteBuffer {
        DestinationMessages.unsubscribe(id: id)
    }

    /// This stream's view of each subscription, starting empty: its first answer is the whole set.
    public func makeStreamState() -> [UInt64: EndpointSet] { [:] }

    public func receive(_ message: ByteBuffer, into sets: inout [UInt64: EndpointSet], entry: (UInt64) -> DestinationEntry?) throws {
        let update = try WatchUpdate(decoding: message)
        guard let entry = entry(update.id) else {
            sets[update.id] = nil
            return
        }
        if let change = update.update { sets[update.id, default: EndpointSet()].apply(change) }
        entry.publish(sets[update.id, default: EndpointSet()].state)
    }
}

/// The proxy's Destination client: one `Watch` stream to the controller, subscribed to each destination in use.
public typealias DestinationClient = WatchClient<DestinationWatch>

extension WatchClient: DestinationLookup where API == DestinationWatch {}
