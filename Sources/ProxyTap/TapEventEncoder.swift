import NIOCore
import ProxyCore
import ProxyGRPC

/// `TapEvent`s encoded by hand (proto/swiftlet/tap/v1/tap.proto; field numbers below are that file's). What the
/// events of one tapped request share — addresses, labels, direction, TLS — is encoded once (`TapEventEncoder`);
/// each event appends its own part. Protobuf allows fields in any order, so shared part plus event is one message.
public final class TapEventEncoder: Sendable {
    /// The shared fields: source (1), destination (2), destination_meta (4), source_meta (5), proxy_direction (6),
    /// route_meta (7), tls (10).
    public let shared: [UInt8]
    /// What the shared part was made from: a request with the same is given the same encoder (TapStage keeps the
    /// last), which is most requests of a connection, and saves encoding a dozen labels again per request.
    public let inputs: Inputs

    public struct Inputs: Equatable, Sendable {
        public var direction: TrafficDirection
        public var source: HostPort?
        public var destination: HostPort?
        public var destinationLabels: [MetricLabel]
        public var routeLabels: [MetricLabel]
        public var tls: TLSLabel

        public init(
            direction: TrafficDirection, source: HostPort?, destination: HostPort?, destinationLabels: [MetricLabel],
            routeLabels: [MetricLabel], tls: TLSLabel
        ) {
            self.direction = direction
            self.source = source
            self.destination = destination
            self.destinationLabels = destinationLabels
            self.routeLabels = routeLabels
            self.tls = tls
        }

        /// What a request's `subject` and `tls` share with the events of another.
        public init(_ subject: TapSubject, tls: TLSLabel) {
            self.init(
                direction: subject.direction, source: subject.source, destination: subject.destination,
                destinationLabels: subject.destinationLabels, routeLabels: subject.routeLabels, tls: tls)
        }

        /// These are what `subject` and `tls` would make: compared field by field, without making them.
        public func describe(_ subject: TapSubject, tls: TLSLabel) -> Bool {
            self.direction == subject.direction && self.source == subject.source && self.destination == subject.destination
                && self.tls == tls && self.destinationLabels == subject.destinationLabels && self.routeLabels == subject.routeLabels
        }
    }

    public init(_ inputs: Inputs) {
        self.inputs = inputs
        let (direction, source, destination, tls) = (inputs.direction, inputs.source, inputs.destination, inputs.tls)
        let (destinationLabels, routeLabels) = (inputs.destinationLabels, inputs.routeLabels)
        var writer = ProtobufWriter()
        writer.reserveCapacity(512)
        if let source { writer.writeMessage(1) { Self.address(source, into: &$0) } }
        if let destination { writer.writeMessage(2) { Self.address(destination, into: &$0) } }
        let (clientID, serverID): (String?, String?) =
            switch tls {
            case .established(let client, let server): (client, server)
            case .noIdentity: (nil, nil)
            }
        // Written straight from the labels: no array of pairs, no new strings (a tapped request pays for this).
        func state(_ writer: inout ProtobufWriter, _ field: Int) {
            switch tls {
            case .established: writer.write(field, string: "true")
            case .noIdentity(let reason): writer.write(field, string: "no_identity:", reason)
            }
        }
        func entry(_ writer: inout ProtobufWriter, _ key: Substring, _ value: (inout ProtobufWriter) -> Void) {
            writer.writeMessage(1) { entry in
                entry.write(1, string: key)
                value(&entry)
            }
        }
        writer.writeMessage(4) { meta in
            for label in destinationLabels {
                let key = label.name.hasPrefix("dst_") ? label.name.dropFirst(4) : Substring(label.name)
                entry(&meta, key) { $0.write(2, string: label.value) }
            }
            if direction != .inbound {
                entry(&meta, "tls") { state(&$0, 2) }
                if let serverID { entry(&meta, "server_id") { $0.write(2, string: serverID) } }
            }
        }
        if direction == .inbound {
            writer.writeMessage(5) { meta in
                entry(&meta, "tls") { state(&$0, 2) }
                if let clientID { entry(&meta, "client_id") { $0.write(2, string: clientID) } }
            }
        }
        writer.write(6, varint: direction == .inbound ? 1 : 2)
        if !routeLabels.isEmpty {
            writer.writeMessage(7) { meta in
                for label in routeLabels { entry(&meta, Substring(label.name)) { $0.write(2, string: label.value) } }
            }
        }
        writer.writeMessage(10) { tlsMessage in
            state(&tlsMessage, 1)
            tlsMessage.write(2, string: clientID ?? "")
            tlsMessage.write(3, string: serverID ?? "")
        }
        self.shared = writer.bytes
    }

    /// `TcpAddress { IPAddress ip = 1; uint32 port = 2 }`; a host that is not an IP address (it cannot be, from a
    /// socket) is left out.
    static func address(_ address: HostPort, into writer: inout ProtobufWriter) {
        if let ip = TapAddress(address.host) {
            writer.writeMessage(1) { message in
                if let v4 = ip.ipv4 {
                    message.writeAlways(1, fixed32: v4)
                } else if let v6 = ip.ipv6 {
                    message.writeMessage(2) { halves in
                        halves.write(1, fixed64: v6.first)
                        halves.write(2, fixed64: v6.last)
                    }
                }
            }
        }
        writer.write(2, varint: UInt64(address.port))
    }

    // MARK: events

    /// The request's id: the process's random base, and a number unique within it.
    public struct StreamID: Hashable, Sendable {
        public var base: UInt32
        public var stream: UInt64

        public init(base: UInt32, stream: UInt64) {
            self.base = base
            self.stream = stream
        }

        func write(into writer: inout ProtobufWriter) {
            writer.writeMessage(1) { id in
                id.write(1, varint: UInt64(self.base))
                id.write(2, varint: self.stream)
            }
        }
    }

    public func requestInit(
        _ id: StreamID, method: String, scheme: String, authority: String, path: String, headers: [(name: String, value: String)]?,
        into writer: inout ProtobufWriter
    ) {
        self.http(1, into: &writer) { event in
            id.write(into: &event)
            event.writeMessage(2) { Self.registeredOrNot(method, TapMatch.registeredMethods, into: &$0) }
            let lower = scheme == "http" || scheme == "https" ? scheme : scheme.lowercased()
            event.writeMessage(3) { Self.registeredOrNot(lower, TapMatch.registeredSchemes, into: &$0) }
            event.write(4, string: authority)
            event.write(5, string: path)
            if let headers { event.writeMessage(6) { Self.headers(headers, into: &$0) } }
        }
    }

    /// `proxyAnswered`: why the proxy answered the request itself, when it did.
    public func responseInit(
        _ id: StreamID, sinceRequestInit: Int64, status: Int, headers: [(name: String, value: String)]?, proxyAnswered: String?,
        into writer: inout ProtobufWriter
    ) {
        self.http(2, into: &writer) { event in
            id.write(into: &event)
            event.writeMessage(2) { Self.duration(sinceRequestInit, into: &$0) }
            event.write(3, varint: UInt64(status))
            if let headers { event.writeMessage(4) { Self.headers(headers, into: &$0) } }
            event.write(5, string: proxyAnswered ?? "")
        }
    }

    /// How a response stream ended, beyond its bytes.
    public enum End: Equatable, Sendable {
        case plain
        case grpcStatus(Int)
        /// An HTTP/2 reset code (the stream was cut, not ended).
        case reset(Int)
    }

    public func responseEnd(
        _ id: StreamID, sinceRequestInit: Int64, sinceResponseInit: Int64, responseBytes: Int, end: End,
        trailers: [(name: String, value: String)]?, into writer: inout ProtobufWriter
    ) {
        self.http(3, into: &writer) { event in
            id.write(into: &event)
            event.writeMessage(2) { Self.duration(sinceRequestInit, into: &$0) }
            event.writeMessage(3) { Self.duration(sinceResponseInit, into: &$0) }
            event.write(4, varint: UInt64(responseBytes))
            switch end {
            case .plain: break
            case .grpcStatus(let code): event.writeMessage(5) { $0.writeAlways(1, varint: UInt64(code)) }
            case .reset(let code): event.writeMessage(5) { $0.writeAlways(2, varint: UInt64(code)) }
            }
            if let trailers { event.writeMessage(6) { Self.headers(trailers, into: &$0) } }
        }
    }

    public func tcpOpen(_ id: StreamID, sni: String?, into writer: inout ProtobufWriter) {
        self.tcp(1, into: &writer) { event in
            id.write(into: &event)
            event.write(2, string: sni ?? "")
        }
    }

    public func tcpClose(
        _ id: StreamID, nanoseconds: Int64, bytesReceived: Int, bytesSent: Int, into writer: inout ProtobufWriter
    ) {
        self.tcp(2, into: &writer) { event in
            id.write(into: &event)
            event.writeMessage(2) { Self.duration(nanoseconds, into: &$0) }
            event.write(3, varint: UInt64(bytesReceived))
            event.write(4, varint: UInt64(bytesSent))
        }
    }

    /// `TapEvent { dropped: Dropped { events } }`: alone, it belongs to no request.
    public static func dropped(_ events: Int, into writer: inout ProtobufWriter) {
        writer.writeMessage(9) { $0.write(1, varint: UInt64(events)) }
    }

    private func http(_ kind: Int, into writer: inout ProtobufWriter, _ body: (inout ProtobufWriter) -> Void) {
        writer.append(self.shared)
        writer.writeMessage(3) { $0.writeMessage(kind, body) }
    }

    private func tcp(_ kind: Int, into writer: inout ProtobufWriter, _ body: (inout ProtobufWriter) -> Void) {
        writer.append(self.shared)
        writer.writeMessage(8) { $0.writeMessage(kind, body) }
    }

    /// `google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2 }`.
    static func duration(_ nanoseconds: Int64, into writer: inout ProtobufWriter) {
        let nanoseconds = max(nanoseconds, 0)
        writer.write(1, varint: UInt64(nanoseconds / 1_000_000_000))
        writer.write(2, varint: UInt64(nanoseconds % 1_000_000_000))
    }

    static func registeredOrNot(_ value: String, _ names: [String], into writer: inout ProtobufWriter) {
        if let index = names.firstIndex(of: value) {
            writer.writeAlways(1, varint: UInt64(index))
        } else {
            writer.write(2, string: value)
        }
    }

    static func headers(_ headers: [(name: String, value: String)], into writer: inout ProtobufWriter) {
        for (name, value) in headers {
            writer.writeMessage(1) { header in
                header.write(1, string: name)
                header.write(2, bytes: Array(value.utf8))
            }
        }
    }
}
