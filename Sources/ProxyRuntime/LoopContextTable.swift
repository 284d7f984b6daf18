import NIOCore
import ProxyCore
import ProxyHTTP
import ProxyTransport

/// The per-loop resources of every event loop, fixed at start-up; finding a loop's entry is a scan of a few
/// elements, done once per accepted connection.
struct LoopContextTable: Sendable {
    let entries: [NIOLoopBound<LoopContext>]

    static func make(
        group: EventLoopGroup, config: ProxyConfig, connector: UpstreamConnector, discovery: DestinationLookup?, meshTLS: MeshTLS?,
        policies: (any PolicyLookup)? = nil, chainBuilder: StageChainBuilder = .standard
    ) async throws -> LoopContextTable {
        var entries: [NIOLoopBound<LoopContext>] = []
        let board = AccrualBoard()
        for loop in group.makeIterator() {
            let entry = try await loop.submit {
                NIOLoopBound(
                    LoopContext(
                        eventLoop: loop, config: config, connector: connector, discovery: discovery, meshTLS: meshTLS, policies: policies,
                        accrualBoard: board, chainBuilder: chainBuilder
                    ), eventLoop: loop
                )
            }.get()
            entries.append(entry)
        }
        return LoopContextTable(entries: entries)
    }

    func resources(for loop: EventLoop) throws -> LoopContext {
        for entry in self.entries where entry.eventLoop === loop { return entry.value }
        throw ProxyError(.upstreamFailed, "connection on an unknown event loop")
    }

    /// Every loop's metrics, merged on `loop`; each shard is read on its own loop, so no lock guards a counter.
    func snapshot(on loop: EventLoop) -> EventLoopFuture<MetricsSnapshot> {
        let parts = self.entries.map { entry in entry.eventLoop.submit { entry.value.metrics.snapshot() } }
        return EventLoopFuture.whenAllSucceed(parts, on: loop).map { parts in
            var merged = MetricsSnapshot()
            for part in parts { merged.merge(part) }
            return merged
        }
    }

    func closeIdleConnections() async {
        for entry in self.entries {
            try? await entry.eventLoop.submit { entry.value.closeIdleConnections() }.get()
        }
    }
}
