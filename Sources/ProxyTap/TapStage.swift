import NIOCore
import ProxyCore
import ProxyHTTP

/// Tap on the request path (DESIGN §3: `authorization → tap → metrics → …`): while a tap is open, each request it
/// matches is reported as request init, response init and response end events to the taps that took it. With no tap
/// open a request costs one atomic load here and nothing else — no slot, no clock, no allocation.
///
/// The match is evaluated when the destination is known — at the first attempt (outbound, the endpoint the
/// balancer chose, its labels and identity), or at the end for a request the proxy answered itself (a fault, a
/// timeout, no endpoints) — so destination labels and the route can be matched on. Tap is first in the chain, so it
/// sees the request as the client sent it and the response as the client got it (after retries).
public final class TapStage: IdleStage {
    let hub: TapHub
    let slot = StageSlot<TapRecord>()
    /// What a connection keeps for its next tapped request: the last encoder, reused while its requests share what
    /// it was made from (addresses, labels, TLS), as the requests of one connection to one endpoint do; and the last
    /// request's record, emptied, so that a connection's requests one after another allocate none.
    final class ConnectionMemo {
        var encoder: TapEventEncoder?
        /// The server identity `encoder` was made for (an attempt's endpoint's); `nil`: the connection's own TLS.
        var serverID: String?
        var spare: TapRecord?
        /// The scheme of a request that names none (HTTP/1.1): `https` when the connection's TLS passes through.
        var defaultScheme: String?
        /// The last request's method and scheme as events carry them: the next request's, mostly.
        var method: TapEvent.Name?
        var scheme: TapEvent.Name?

        /// `method` as an event carries it, looked up only when it is not the last request's.
        func name(method: String) -> TapEvent.Name {
            if let last = self.method, last.text == method { return last }
            let name = TapEventEncoder.method(method)
            self.method = name
            return name
        }

        /// `scheme` as an event carries it, likewise.
        func name(scheme: String) -> TapEvent.Name {
            if let last = self.scheme, last.text == scheme { return last }
            let name = TapEventEncoder.scheme(scheme)
            self.scheme = name
            return name
        }
    }

    public init(hub: TapHub) {
        self.hub = hub
    }

    /// What tap keeps of one request that some tap may take.
    final class TapRecord {
        var streams: [TapStream] = []
        var encoder: TapEventEncoder?
        var id = TapEventEncoder.StreamID(base: 0, stream: 0)
        var decided = false
        var responseAt: NIODeadline?

        /// Empty again, for the connection's next request.
        func reset() {
            self.streams = []
            self.encoder = nil
            self.decided = false
            self.responseAt = nil
        }
    }

    /// No tap is open: the exchange skips this stage, every hook of it, for the whole request.
    public var isIdle: Bool { !self.hub.isActive }

    public func request(_ exchange: Exchange) -> StageDecision {
        guard self.hub.isActive else { return .proceed }
        let memo: ConnectionMemo
        if let known = exchange.connectionMemo as? ConnectionMemo {
            memo = known
        } else {
            memo = ConnectionMemo()
            exchange.connectionMemo = memo
        }
        if let spare = memo.spare {
            memo.spare = nil
            exchange.slots[self.slot] = spare
        } else {
            exchange.slots[self.slot] = TapRecord()
        }
        return .proceed
    }

    /// `http`, or `https` on a connection whose TLS passes through: the connection's, worked out once.
    private static func defaultScheme(_ exchange: Exchange, _ memo: ConnectionMemo?) -> String {
        if let known = memo?.defaultScheme { return known }
        let scheme = exchange.connectionTLS == .passthrough ? "https" : "http"
        memo?.defaultScheme = scheme
        return scheme
    }

    /// The request is done with its record: emptied, it waits on the connection for the next request.
    private func release(_ record: TapRecord, _ exchange: Exchange) {
        exchange.slots[self.slot] = nil
        record.reset()
        if let memo = exchange.connectionMemo as? ConnectionMemo, memo.spare == nil { memo.spare = record }
    }

    // A request that started with no tap open never reaches these (`isIdle`). Each hook still looks at the hub
    // first: when the last tap closed mid-request, its streams are gone and nothing is encoded for them (or counted
    // dropped).

    public func attemptStarted(_ endpoint: ChosenEndpoint, _ exchange: Exchange) {
        guard self.hub.isActive, let record = exchange.slots[self.slot], !record.decided else { return }
        self.decide(record, exchange, destination: endpoint.target.endpoint, labels: endpoint.labels, serverID: endpoint.target.identity)
    }

    public func response(_ head: inout HTTPResponseHead, _ exchange: Exchange) -> StageVerdict {
        guard self.hub.isActive, let record = exchange.slots[self.slot], record.decided, record.responseAt == nil, !record.streams.isEmpty,
            let encoder = record.encoder
        else { return .pass }
        let now = exchange.now
        record.responseAt = now
        // Everything an event needs read before the loop: the closures below capture plain values only.
        let (id, since, status) = (record.id, (now - exchange.startedAt).nanoseconds, head.status)
        let event = encoder.responseInit(id, sinceRequestInit: since, status: status, headers: nil, proxyAnswered: nil)
        for stream in record.streams {
            if stream.wantsHeaders {
                stream.emit(
                    encoder.responseInit(
                        id, sinceRequestInit: since, status: status, headers: self.hub.extract(head.fields), proxyAnswered: nil))
            } else {
                stream.emit(event)
            }
        }
        return .pass
    }

    public func finished(_ exchange: Exchange) {
        guard self.hub.isActive, let record = exchange.slots[self.slot] else { return }
        if !record.decided {
            // No attempt went out: the proxy answered (or the client left) before choosing an endpoint.
            self.decide(record, exchange, destination: nil, labels: exchange.serviceLabels, serverID: nil)
        }
        guard let encoder = record.encoder, !record.streams.isEmpty else { return }
        let now = exchange.now
        let sinceRequest = (now - exchange.startedAt).nanoseconds
        let id = record.id
        if record.responseAt == nil, exchange.responseStatus > 0 {
            record.responseAt = now
            let (answered, status) = (exchange.proxyAnswered, exchange.responseStatus)
            for stream in record.streams {
                stream.emit(
                    encoder.responseInit(
                        id, sinceRequestInit: sinceRequest, status: status, headers: stream.wantsHeaders ? [] : nil, proxyAnswered: answered
                    ))
            }
        }
        let end: TapEventEncoder.End =
            if !exchange.responseCompleted {
                // Cut before its end: the client went away (CANCEL), or the upstream failed mid-response.
                .reset(exchange.localError == nil ? 0x8 : 0x2)
            } else if let grpc = exchange.grpcStatus {
                .grpcStatus(grpc)
            } else {
                .plain
            }
        let sinceResponse = record.responseAt.map { (now - $0).nanoseconds } ?? 0
        let bytes = exchange.responseBytes
        let event = encoder.responseEnd(
            id, sinceRequestInit: sinceRequest, sinceResponseInit: sinceResponse, responseBytes: bytes, end: end, trailers: nil)
        for stream in record.streams {
            if stream.wantsHeaders {
                stream.emit(
                    encoder.responseEnd(
                        id, sinceRequestInit: sinceRequest, sinceResponseInit: sinceResponse, responseBytes: bytes, end: end,
                        trailers: exchange.responseTrailers.map { self.hub.extract($0) }), ending: true)
            } else {
                stream.emit(event, ending: true)
            }
        }
        self.release(record, exchange)
    }

    /// Which open taps take this request, now that its destination is known; their request init events.
    /// `serverID`: the identity of the endpoint the attempt goes to, when it has one (its TLS is then mTLS to it);
    /// `nil`: the connection's own TLS.
    private func decide(_ record: TapRecord, _ exchange: Exchange, destination: HostPort?, labels: [MetricLabel], serverID: String?) {
        record.decided = true
        // The request's start, not a clock read: the rate window counts requests by when they came.
        let now = Int64(truncatingIfNeeded: exchange.startedAt.uptimeNanoseconds)
        let open = self.hub.open
        // One tap of every request (`viz tap deploy/web`) is the usual case: no subject to make, nothing to match,
        // and its array taken as it is (no new array).
        let streams =
            if open.count == 1, open[0].matchesEverything {
                open[0].admit(now: now) ? open : []
            } else {
                Self.taking(open, exchange, destination: destination, labels: labels, now: now)
            }
        guard !streams.isEmpty else {
            self.release(record, exchange)
            return
        }
        record.streams = streams
        let memo = exchange.connectionMemo as? ConnectionMemo
        let routeLabels = exchange.routeLabels
        let encoder: TapEventEncoder
        if let memo, let last = memo.encoder, memo.serverID == serverID,
            last.shares(destination: destination, destinationLabels: labels, routeLabels: routeLabels)
        {
            encoder = last
        } else {
            let tls = serverID.map { TLSLabel.established(clientID: nil, serverID: $0) } ?? exchange.connectionTLS
            encoder = TapEventEncoder(
                .init(
                    direction: exchange.direction, source: exchange.source, destination: destination, destinationLabels: labels,
                    routeLabels: routeLabels, tls: tls))
            memo?.encoder = encoder
            memo?.serverID = serverID
        }
        record.encoder = encoder
        record.id = self.hub.nextID()
        let id = record.id
        // The head's fields read one by one: a copy of the whole head (its header list too) costs more than tap's match.
        let method = exchange.request.method
        let scheme = exchange.request.scheme ?? Self.defaultScheme(exchange, memo)
        let (path, authority) = (exchange.request.path, exchange.request.authority ?? "")
        let (methodName, schemeName) =
            if let memo { (memo.name(method: method), memo.name(scheme: scheme)) } else {
                (TapEventEncoder.method(method), TapEventEncoder.scheme(scheme))
            }
        let event = encoder.requestInit(id, method: methodName, scheme: schemeName, authority: authority, path: path, headers: nil)
        for stream in streams {
            if stream.wantsHeaders {
                stream.emit(
                    encoder.requestInit(
                        id, method: methodName, scheme: schemeName, authority: authority, path: path,
                        headers: self.hub.extract(exchange.request.fields)))
            } else {
                stream.emit(event)
            }
        }
    }

    /// The open taps that take a request, with their matches evaluated on a subject made once (only when some tap
    /// has a match), each admitting by its limit and rate.
    @inline(never)
    private static func taking(_ open: [TapStream], _ exchange: Exchange, destination: HostPort?, labels: [MetricLabel], now: Int64)
        -> [TapStream]
    {
        var subject: TapSubject? = nil
        return open.filter { stream in
            if !stream.matchesEverything {
                let made =
                    subject
                    ?? TapSubject(
                        direction: exchange.direction, source: exchange.source, destination: destination, destinationLabels: labels,
                        routeLabels: exchange.routeLabels,
                        http: .init(
                            scheme: exchange.request.scheme ?? (exchange.connectionTLS == .passthrough ? "https" : "http"),
                            method: exchange.request.method, authority: exchange.request.authority ?? "", path: exchange.request.path))
                subject = made
                guard stream.match.matches(made) else { return false }
            }
            return stream.admit(now: now)
        }
    }
}

@available(*, unavailable)
extension TapStage: Sendable {}
