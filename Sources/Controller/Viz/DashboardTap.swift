import Foundation
import SwiftletAPI

/// The dashboard's live calls: `GET /api/v1/tap?kind=deploy&name=web&namespace=NS[&to=svc/voting][&method=GET]
/// [&path=/api][&max_rps=20]` as a stream of server-sent events, each `data:` one event in `viz tap -o wide`'s line
/// format (what `viz top` reads too), notices (a pod that cannot be tapped, events dropped) as `event: notice`. It
/// runs while the page reads it, for at most `maximumSeconds`, through the controller's own tap service.
public enum DashboardTap {
    /// A page left open taps for this long at most; it opens a new stream to go on.
    public static let maximumSeconds: Int64 = 600
    public static let defaultMaxRPS: UInt32 = 20

    /// The tap request of the query's parameters.
    public static func request(_ query: [String: String]) throws(TapError) -> Swiftlet_Tap_V1_TapByResourceRequest {
        let word = query["kind"] ?? "deployment"
        guard let kind = TapResourceKind(parsing: word) else { throw TapError(.invalidRequest, "unknown kind \"\(word)\"") }
        guard let namespace = query["namespace"], !namespace.isEmpty else { throw TapError(.invalidRequest, "a tap needs namespace") }
        var request = Swiftlet_Tap_V1_TapByResourceRequest()
        request.target = .with {
            $0.type = kind.rawValue
            $0.namespace = namespace
            $0.name = query["name"] ?? (kind == .namespace ? namespace : "")
        }
        if let to = query["to"], !to.isEmpty {
            let parts = to.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let toKind = TapResourceKind(parsing: parts[0]) else {
                throw TapError(.invalidRequest, "to=\(to): TYPE/NAME (svc/voting)")
            }
            request.to = .with {
                $0.type = toKind.rawValue
                $0.namespace = namespace
                $0.name = parts[1]
            }
        }
        request.maxRps = query["max_rps"].flatMap { UInt32($0) }.map { min(max($0, 1), 100) } ?? Self.defaultMaxRPS
        typealias Match = Swiftlet_Tap_V1_ObserveRequest.Match
        var matches: [Match] = []
        if let method = query["method"], !method.isEmpty {
            var match = Match()
            let registered: [String: Swiftlet_Tap_V1_HttpMethod.Registered] = [
                "GET": .get, "POST": .post, "PUT": .put, "DELETE": .delete, "PATCH": .patch, "OPTIONS": .options, "CONNECT": .connect,
                "HEAD": .head, "TRACE": .trace,
            ]
            match.http = .with {
                $0.method = .with {
                    if let known = registered[method.uppercased()] { $0.registered = known } else { $0.unregistered = method }
                }
            }
            matches.append(match)
        }
        if let path = query["path"], !path.isEmpty {
            var match = Match()
            match.http = .with { $0.path = .with { $0.prefix = path } }
            matches.append(match)
        }
        if let match = TapTargetResolver.all(matches) { request.match = match }
        return request
    }

    /// One event as server-sent events' text: its line, or a notice; nil for what is neither.
    public static func message(_ event: Swiftlet_Tap_V1_TapByResourceEvent) -> String? {
        if let notice = TapEventLine.notice(event) { return "event: notice\ndata: \(Self.oneLine(notice))\n\n" }
        guard let line = TapEventLine.format(event, wide: true) else { return nil }
        return "data: \(Self.oneLine(line))\n\n"
    }

    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    }
}
