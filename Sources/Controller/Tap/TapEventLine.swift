import SwiftProtobuf
import SwiftletAPI

/// One tap event as a line of text, Linkerd's format, so that what users grep for works:
///
///     req id=0:1 proxy=out src=10.0.0.1:40312 dst=10.0.0.2:8080 tls=true :method=GET :authority=web:8080 :path=/
///     rsp id=0:1 proxy=out src=… dst=… tls=true :status=200 latency=1234µs
///     end id=0:1 proxy=out src=… dst=… tls=true duration=56µs response-length=512B
///
/// gRPC ends carry `grpc-status=OK`, resets `reset-error=N`; a response the proxy made itself says
/// `proxy-answered=fault` (or `timeout`, `circuit-open`, …). Wide adds where each end is (`src_res=deploy/web
/// src_ns=shop dst_res=… dst_ns=…`) and the route and backend (`rt_route=… rt_backend=…`).
public enum TapEventLine {
    public static func format(_ merged: Swiftlet_Tap_V1_TapByResourceEvent, wide: Bool) -> String? {
        let event = merged.event
        let common: (Swiftlet_Tap_V1_TapEvent.Http.StreamId) -> String = { id in
            "id=\(id.base):\(id.stream) proxy=\(Self.direction(event.proxyDirection)) src=\(TapAddressText.text(event.source)) "
                + "dst=\(TapAddressText.text(event.destination)) tls=\(event.tls.state.isEmpty ? "false" : event.tls.state)"
        }
        var line: String
        switch event.event {
        case .http(let http):
            switch http.event {
            case .requestInit(let request):
                line =
                    "req \(common(request.id)) :method=\(Self.method(request.method)) :authority=\(request.authority) :path=\(request.path)"
            case .responseInit(let response):
                line = "rsp \(common(response.id)) :status=\(response.httpStatus) latency=\(Self.micros(response.sinceRequestInit))µs"
                if !response.proxyAnswered.isEmpty { line += " proxy-answered=\(response.proxyAnswered)" }
            case .responseEnd(let end):
                line = "end \(common(end.id))"
                switch end.eos.end {
                case .grpcStatusCode(let code): line += " grpc-status=\(Self.grpcStatus(code))"
                case .resetErrorCode(let code): line += " reset-error=\(code)"
                case nil: break
                }
                line += " duration=\(Self.micros(end.sinceResponseInit))µs response-length=\(end.responseBytes)B"
            case nil:
                return nil
            }
        case .tcp(let tcp):
            switch tcp.event {
            case .open(let open):
                line = "tcp-open \(common(open.id))"
                if !open.sni.isEmpty { line += " sni=\(open.sni)" }
            case .close(let close):
                line =
                    "tcp-close \(common(close.id)) duration=\(Self.micros(close.duration))µs bytes-received=\(close.bytesReceived)B "
                    + "bytes-sent=\(close.bytesSent)B"
            case nil:
                return nil
            }
        case .dropped, nil:
            return nil
        }
        if wide {
            line += Self.resource("src", merged.sourceResource) + Self.resource("dst", merged.destinationResource)
            for (key, value) in event.routeMeta.labels.sorted(by: { $0.key < $1.key }) { line += " rt_\(key)=\(value)" }
        }
        return line
    }

    /// What goes to standard error instead: a pod that cannot be tapped, events a proxy dropped.
    public static func notice(_ merged: Swiftlet_Tap_V1_TapByResourceEvent) -> String? {
        if !merged.error.isEmpty { return "tap: \(merged.error)" }
        if case .dropped(let dropped) = merged.event.event {
            return "tap: the proxy of pod \(merged.proxy) dropped \(dropped.events) events: this reader was too slow for the traffic"
        }
        return nil
    }

    public static func direction(_ direction: Swiftlet_Tap_V1_TapEvent.ProxyDirection) -> String {
        switch direction {
        case .inbound: "in"
        case .outbound: "out"
        default: "unknown"
        }
    }

    public static func method(_ method: Swiftlet_Tap_V1_HttpMethod) -> String {
        switch method.type {
        case .registered(let registered):
            ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "HEAD", "TRACE"].dropFirst(registered.rawValue).first ?? "GET"
        case .unregistered(let name): name
        case nil: ""
        }
    }

    public static func micros(_ duration: SwiftProtobuf.Google_Protobuf_Duration) -> Int64 {
        duration.seconds * 1_000_000 + Int64(duration.nanos / 1000)
    }

    static let grpcStatusNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]

    public static func grpcStatus(_ code: UInt32) -> String {
        code < Self.grpcStatusNames.count ? Self.grpcStatusNames[Int(code)] : String(code)
    }

    /// ` src_res=deploy/web src_ns=shop`, or ` src_res=pod/web-1 …` without an owner; nothing when unknown.
    public static func resource(_ side: String, _ resource: [String: String]) -> String {
        guard let namespace = resource["namespace"] else { return "" }
        return " \(side)_res=\(Self.name(resource)) \(side)_ns=\(namespace)"
    }

    /// `deploy/web`, `sts/db`, `pod/web-1`: the owner when there is one (kubectl's short kinds), else the pod.
    public static func name(_ resource: [String: String]) -> String {
        let owners: [(String, String)] = [
            ("deployment", "deploy"), ("statefulset", "sts"), ("daemonset", "ds"), ("cronjob", "cronjob"), ("job", "job"),
            ("replicaset", "rs"), ("replicationcontroller", "rc"),
        ]
        for (kind, short) in owners { if let name = resource[kind] { return "\(short)/\(name)" } }
        return resource["pod"].map { "pod/\($0)" } ?? ""
    }
}
