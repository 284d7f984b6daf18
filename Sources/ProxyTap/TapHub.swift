import NIOCore
import ProxyCore
import Synchronization

/// The proxy's open taps, shared by every event loop. Plain traffic reads one atomic (`isActive`) and nothing else;
/// only while a tap is open does a request look at the list.
public final class TapHub: Sendable {
    private let count = Atomic<Int>(0)
    private let streams = Mutex<[TapStream]>([])
    private let nextStream = Atomic<UInt64>(1)
    private let droppedEvents = Atomic<Int>(0)
    /// Random, fixed for the process's life: `StreamId.base`.
    public let base: UInt32
    /// Header names whose values are never sent (lower case).
    public let redacted: Set<String>
    /// Events queued per stream before they are dropped (and counted).
    public let capacity: Int

    public static let defaultRedacted: Set<String> = ["authorization", "cookie", "set-cookie", "proxy-authorization"]

    public init(redacted: Set<String> = TapHub.defaultRedacted, capacity: Int = 1024) {
        self.base = UInt32.random(in: 1...UInt32.max)
        self.redacted = Set(redacted.map { $0.lowercased() })
        self.capacity = capacity
    }

    /// Some tap is open.
    @inline(__always)
    public var isActive: Bool { self.count.load(ordering: .relaxed) > 0 }

    /// Opens a tap; `wake` is told when its events wait.
    public func open(_ request: TapObserveRequest, wake: @escaping @Sendable () -> Void) -> TapStream {
        let stream = TapStream(request: request, capacity: self.capacity, hub: self, wake: wake)
        self.streams.withLock { streams in
            streams.append(stream)
            self.count.store(streams.count, ordering: .relaxed)
        }
        return stream
    }

    func close(_ stream: TapStream) {
        self.streams.withLock { streams in
            streams.removeAll { $0 === stream }
            self.count.store(streams.count, ordering: .relaxed)
        }
    }

    /// The open taps, now.
    public var open: [TapStream] { self.streams.withLock { $0 } }

    public func nextID() -> TapEventEncoder.StreamID {
        TapEventEncoder.StreamID(base: self.base, stream: self.nextStream.add(1, ordering: .relaxed).oldValue)
    }

    func countDropped() {
        self.droppedEvents.add(1, ordering: .relaxed)
    }

    /// Events dropped because a tap's reader fell behind, over the process's life (`tap_events_dropped_total`).
    public var droppedTotal: Int { self.droppedEvents.load(ordering: .relaxed) }

    /// Headers as tap sends them: the redacted names' values replaced.
    public func extract(_ fields: HTTPFields) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        fields.forEach { name, value in
            let name = name.lowercased()
            headers.append((name, self.redacted.contains(name) ? "[redacted]" : value))
        }
        return headers
    }
}
