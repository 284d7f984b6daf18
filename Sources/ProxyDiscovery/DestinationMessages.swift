import NIOCore
import ProxyCore
import ProxyGRPC

/// The messages of `swiftlet.destination.v1.Destination/Watch` the proxy sends and reads, encoded by hand
/// (proto/swiftlet/destination/v1/destination.proto; field numbers below are that file's).
enum DestinationMessages {
    static let watchPath = "/swiftlet.destination.v1.Destination/Watch"

    /// `WatchRequest { subscribe: Subscribe { id, destination: GetDestination { authority, context_namespace,
    /// client_workload } } }`
    static func subscribe(id: UInt64, authority: String, namespace: String, workload: String) -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.writeMessage(1) { subscribe in
            subscribe.write(1, varint: id)
            subscribe.writeMessage(2) { destination in
                destination.write(1, string: authority)
                destination.write(2, string: namespace)
                destination.write(3, string: workload)
            }
        }
        return writer.buffer
    }

    /// `WatchRequest { unsubscribe: id }`
    static func unsubscribe(id: UInt64) -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.writeAlways(2, varint: id)
        return writer.buffer
    }
}

/// `WatchUpdate`: one change to one subscription's endpoints.
struct WatchUpdate: Equatable {
    var id: UInt64 = 0
    var update: DestinationUpdate?

    init(id: UInt64, update: DestinationUpdate?) {
        self.id = id
        self.update = update
    }

    init(decoding message: ByteBuffer) throws(ProtobufError) {
        var reader = ProtobufReader(message)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: self.id = try value.uint64
            case 2: self.update = try DestinationUpdate(decoding: value.bytes)
            default: continue
            }
        }
    }
}

/// `Update`: endpoints added (or changed), removed, or none at all.
enum DestinationUpdate: Equatable {
    case add(endpoints: [WireEndpoint], labels: [MetricLabel])
    case remove([HostPort])
    case noEndpoints(exists: Bool)

    /// `nil` for an update of a kind this proxy does not know (a newer controller): it is ignored.
    init?(decoding message: ByteBuffer) throws(ProtobufError) {
        var reader = ProtobufReader(message)
        var decoded: DestinationUpdate? = nil
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                var endpoints: [WireEndpoint] = []
                var labels: [MetricLabel] = []
                var set = ProtobufReader(try value.bytes)
                while let (field, value) = try set.next() {
                    switch field {
                    case 1: endpoints.append(try WireEndpoint(decoding: value.bytes))
                    case 2: labels.append(try Self.mapEntry(value.bytes))
                    default: continue
                    }
                }
                decoded = .add(endpoints: endpoints, labels: labels)
            case 2:
                var addresses: [HostPort] = []
                var set = ProtobufReader(try value.bytes)
                while let (field, value) = try set.next() {
                    if field == 1 { addresses.append(try Self.address(value.bytes)) }
                }
                decoded = .remove(addresses)
            case 3:
                var exists = false
                var none = ProtobufReader(try value.bytes)
                while let (field, value) = try none.next() {
                    if field == 1 { exists = try value.bool }
                }
                decoded = .noEndpoints(exists: exists)
            default:
                continue
            }
        }
        guard let decoded else { return nil }
        self = decoded
    }

    /// `TcpAddress { ip, port }`
    static func address(_ message: ByteBuffer) throws(ProtobufError) -> HostPort {
        var reader = ProtobufReader(message)
        var ip = ""
        var port: UInt32 = 0
        while let (field, value) = try reader.next() {
            switch field {
            case 1: ip = try value.string
            case 2: port = try value.uint32
            default: continue
            }
        }
        guard port <= 65535 else { throw ProtobufError("port \(port) is out of range") }
        return HostPort(host: ip, port: Int(port))
    }

    /// A `map<string, string>` entry: `{ key = 1, value = 2 }`.
    static func mapEntry(_ message: ByteBuffer) throws(ProtobufError) -> MetricLabel {
        var reader = ProtobufReader(message)
        var entry = MetricLabel("", "")
        while let (field, value) = try reader.next() {
            switch field {
            case 1: entry.name = try value.string
            case 2: entry.value = try value.string
            default: continue
            }
        }
        return entry
    }
}

/// `Endpoint` as it arrives, before its labels are merged with the set's.
struct WireEndpoint: Equatable {
    var address = HostPort(host: "", port: 0)
    var weight: UInt32 = 0
    var identity = ""
    var protocolHint: UInt64 = 0
    var labels: [MetricLabel] = []

    init(address: HostPort, weight: UInt32 = 0, identity: String = "", protocolHint: UInt64 = 0, labels: [MetricLabel] = []) {
        self.address = address
        self.weight = weight
        self.identity = identity
        self.protocolHint = protocolHint
        self.labels = labels
    }

    init(decoding message: ByteBuffer) throws(ProtobufError) {
        var reader = ProtobufReader(message)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: self.address = try DestinationUpdate.address(value.bytes)
            case 2: self.weight = try value.uint32
            case 3: self.identity = try value.string
            case 4: self.protocolHint = try value.uint64
            case 5: self.labels.append(try DestinationUpdate.mapEntry(value.bytes))
            default: continue
            }
        }
    }
}
