import ProxyGRPC

/// One `TapEvent` as the queue takes it: its size first, so that the queue makes room for exactly that once and
/// the event is written into it byte by byte without a check (`ProtobufCursor`). A tapped request writes three.
public protocol TapEventMessage {
    /// The encoded size, in bytes.
    var size: Int { get }
    /// Writes exactly `size` bytes.
    func write(to cursor: inout ProtobufCursor)
}

extension TapEventMessage {
    /// The encoded event, for what is not on the request path (tests, a connection's events).
    public var bytes: [UInt8] {
        let size = self.size
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            guard let base = buffer.baseAddress else { return }
            var cursor = ProtobufCursor(UnsafeMutableRawPointer(base))
            self.write(to: &cursor)
            precondition(cursor.pointer == UnsafeMutableRawPointer(base) + size, "a tap event wrote other than its size")
            count = size
        }
    }
}
