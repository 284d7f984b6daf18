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

    /// Whether a request to `destination` with these labels would make the same shared part as these inputs, on the
    /// same connection (whose direction, source and own TLS are the same for all its requests) and to the same server
    /// identity (the caller compares that): compared in place, field by field, without making the request's inputs.
    func shares(destination: HostPort?, destinationLabels: [MetricLabel], routeLabels: [MetricLabel]) -> Bool {
        self.inputs.destination == destination && self.inputs.destinationLabels == destinationLabels
            && self.inputs.routeLabels == routeLabels
    }

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
        public let base: UInt32
        public let stream: UInt64
        /// Its message's body size, computed once for the request's three events.
        let body: Int

        public init(base: UInt32, stream: UInt64) {
            self.base = base
            self.stream = stream
            self.body = ProtobufSize.varintField(1, UInt64(base)) + ProtobufSize.varintField(2, stream)
        }

        /// `id = 1`, the first field of every HTTP and TCP event.
        var size: Int {
            @inline(__always) get { ProtobufSize.messageField(1, body: self.body) }
        }

        @inline(__always)
        func write(to cursor: inout ProtobufCursor) {
            cursor.message(1, body: self.body)
            cursor.write(1, varint: UInt64(self.base))
            cursor.write(2, varint: self.stream)
        }
    }

    public typealias Headers = [(name: String, value: String)]

    // MARK: events

    public func requestInit(
        _ id: StreamID, method: String, scheme: String, authority: String, path: String, headers: Headers?
    ) -> TapEvent {
        self.requestInit(
            id, method: Self.method(method), scheme: Self.scheme(scheme), authority: authority, path: path, headers: headers)
    }

    /// As `requestInit(_:method:scheme:authority:path:headers:)`, with the method and scheme looked up already (tap
    /// keeps a connection's last: its requests mostly share them).
    func requestInit(
        _ id: StreamID, method: TapEvent.Name, scheme: TapEvent.Name, authority: String, path: String, headers: Headers?
    ) -> TapEvent {
        TapEvent(
            .requestInit, shared: self.shared, id: id, method: method, scheme: scheme, first: authority, second: path, headers: headers)
    }

    /// A method as an event carries it: its index when registered.
    static func method(_ method: String) -> TapEvent.Name {
        TapEvent.Name(method, TapMatch.registeredMethods)
    }

    /// A scheme as an event carries it: lower case, its index when registered.
    static func scheme(_ scheme: String) -> TapEvent.Name {
        TapEvent.Name(scheme == "http" || scheme == "https" ? scheme : scheme.lowercased(), TapMatch.registeredSchemes)
    }

    /// `proxyAnswered`: why the proxy answered the request itself, when it did.
    public func responseInit(
        _ id: StreamID, sinceRequestInit: Int64, status: Int, headers: Headers?, proxyAnswered: String?
    ) -> TapEvent {
        TapEvent(
            .responseInit, shared: self.shared, id: id, first: proxyAnswered ?? "", since: Duration(nanoseconds: sinceRequestInit),
            number: UInt64(status), headers: headers)
    }

    /// How a response stream ended, beyond its bytes.
    public enum End: Equatable, Sendable {
        case plain
        case grpcStatus(Int)
        /// An HTTP/2 reset code (the stream was cut, not ended).
        case reset(Int)
    }

    public func responseEnd(
        _ id: StreamID, sinceRequestInit: Int64, sinceResponseInit: Int64, responseBytes: Int, end: End, trailers: Headers?
    ) -> TapEvent {
        TapEvent(
            .responseEnd, shared: self.shared, id: id, since: Duration(nanoseconds: sinceRequestInit),
            sinceResponse: Duration(nanoseconds: sinceResponseInit), number: UInt64(responseBytes), end: end, headers: trailers)
    }

    public func tcpOpen(_ id: StreamID, sni: String?) -> TapEvent {
        TapEvent(.tcpOpen, shared: self.shared, id: id, first: sni ?? "")
    }

    public func tcpClose(_ id: StreamID, nanoseconds: Int64, bytesReceived: Int, bytesSent: Int) -> TapEvent {
        TapEvent(
            .tcpClose, shared: self.shared, id: id, since: Duration(nanoseconds: nanoseconds), number: UInt64(bytesReceived),
            sent: UInt64(bytesSent))
    }

    /// `TapEvent { dropped: Dropped { events } }`: alone, it belongs to no request.
    public struct Dropped: TapEventMessage {
        public let events: Int

        public init(_ events: Int) { self.events = events }

        public var size: Int { ProtobufSize.messageField(9, body: ProtobufSize.varintField(1, UInt64(self.events))) }

        public func write(to cursor: inout ProtobufCursor) {
            cursor.message(9, body: ProtobufSize.varintField(1, UInt64(self.events)))
            cursor.write(1, varint: UInt64(self.events))
        }
    }

    /// `google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2 }`, split and sized once.
    struct Duration {
        let seconds: UInt64
        let nanos: UInt64
        let body: Int

        /// Made in place rather than a `static let`, as `TapEvent.Name.none`.
        static var zero: Duration {
            @inline(__always) get { Duration(seconds: 0, nanos: 0, body: 0) }
        }

        private init(seconds: UInt64, nanos: UInt64, body: Int) {
            self.seconds = seconds
            self.nanos = nanos
            self.body = body
        }

        @inline(__always)
        init(nanoseconds: Int64) {
            let nanoseconds = UInt64(max(nanoseconds, 0))
            self.seconds = nanoseconds / 1_000_000_000
            self.nanos = nanoseconds % 1_000_000_000
            self.body = ProtobufSize.varintField(1, self.seconds) + ProtobufSize.varintField(2, self.nanos)
        }

        /// As the message field `field`.
        @inline(__always)
        func size(_ field: Int) -> Int { ProtobufSize.messageField(field, body: self.body) }

        @inline(__always)
        func write(_ field: Int, to cursor: inout ProtobufCursor) {
            cursor.message(field, body: self.body)
            cursor.write(1, varint: self.seconds)
            cursor.write(2, varint: self.nanos)
        }
    }

    /// `HttpHeaders { repeated Header headers = 1 }`, `Header { string name = 1; bytes value = 2 }`: its body.
    static func headersBody(_ headers: Headers) -> Int {
        headers.reduce(0) {
            $0 + ProtobufSize.messageField(1, body: ProtobufSize.stringField(1, $1.name) + ProtobufSize.stringField(2, $1.value))
        }
    }

    static func writeHeaders(_ field: Int, _ headers: Headers, to cursor: inout ProtobufCursor) {
        cursor.message(field, body: Self.headersBody(headers))
        for (name, value) in headers {
            cursor.message(1, body: ProtobufSize.stringField(1, name) + ProtobufSize.stringField(2, value))
            cursor.write(1, string: name)
            cursor.write(2, string: value)
        }
    }
}
