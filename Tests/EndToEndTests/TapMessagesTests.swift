import Foundation
import NIOCore
import ProxyCore
import ProxyGRPC
import ProxyTap
import Testing

/// Tap's messages against an independent codec: Python's protobuf, its classes generated from our .proto at test
/// time (Tests/Fixtures/tap_codec.py). What the proxy writes must read as the .proto says, and what a tap client
/// writes must read as it meant.
@Suite struct TapMessagesTests {
    static func python(_ arguments: [String], input: String? = nil) async throws -> String {
        let script = E2E.fixtures.appendingPathComponent("tap_codec.py").path
        let result = try await run(E2E.python, [script] + arguments, input: input.map { Data($0.utf8) })
        guard result.status == 0 else { throw HarnessError("tap_codec.py failed: \(result.output)") }
        return result.output
    }

    static func decode(_ events: [[UInt8]]) async throws -> [[String: Any]] {
        let hex = events.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n")
        let output = try await Self.python(["decode", "TapEvent"], input: hex + "\n")
        return try output.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test(.enabled(if: E2E.available("python3")))
    func anObserveRequestWrittenByAClientReadsAsItMeant() async throws {
        let json = """
            {"limit": 5, "max_rps": 3, "tcp": true, "extract": {"http": {"headers": {}}},
             "match": {"all": {"matches": [
               {"http": {"method": {"registered": "POST"}}},
               {"http": {"scheme": {"unregistered": "grpc+h2"}}},
               {"http": {"path": {"prefix": "/api/"}}},
               {"any": {"matches": [{"destination_label": {"key": "deployment", "value": "voting"}},
                                    {"route_label": {"key": "route_name", "value": "split"}}]}},
               {"not": {"source": {"netmask": {"ip": {"ipv4": 183762945}, "mask": 24}}}},
               {"destination": {"netmask": {"ip": {"ipv6": {"first": "18230571291595767808", "last": "23"}}, "mask": 64}}},
               {"destination": {"ports": {"min": 8000, "max": 8080}}}]}}}
            """
        let hex = try await Self.python(["encode", "ObserveRequest", json]).trimmingCharacters(in: .whitespacesAndNewlines)
        var bytes = ByteBuffer()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.writeInteger(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        let request = try TapObserveRequest(decoding: bytes)
        #expect(request.limit == 5 && request.maxRPS == 3 && request.tcp && request.headers)
        #expect(
            request.match
                == .all([
                    .method("POST"), .scheme("grpc+h2"), .path(.prefix("/api/")),
                    .any([.destinationLabel(key: "deployment", value: "voting"), .routeLabel(key: "route_name", value: "split")]),
                    .not(.source(.netmask(TapAddress("10.244.0.1")!, bits: 24))),
                    .destination(.netmask(TapAddress("fd00::17")!, bits: 64)),
                    .destination(.ports(8000...8080)),
                ]), "\(request.match)")
    }

    @Test(.enabled(if: E2E.available("python3")))
    func eventsWrittenByTheProxyReadAsTheProtoSays() async throws {
        let hub = TapHub()
        let outbound = TapEventEncoder(
            .init(
                direction: .outbound, source: HostPort(host: "10.244.1.7", port: 41234),
                destination: HostPort(host: "fd00::17", port: 8080),
                destinationLabels: [MetricLabel("dst_deployment", "voting"), MetricLabel("dst_namespace", "emojivoto")],
                routeLabels: [MetricLabel("route_name", "split"), MetricLabel("backend_name", "voting-v2")],
                tls: .established(clientID: nil, serverID: "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local")))
        let id = TapEventEncoder.StreamID(base: 7, stream: 42)
        var headers = HTTPFields()
        headers.add("Authorization", "Bearer secret")
        headers.add("x-trace", "abc")
        let inbound = TapEventEncoder(
            .init(
                direction: .inbound, source: HostPort(host: "10.244.1.7", port: 1), destination: HostPort(host: "127.0.0.1", port: 80),
                destinationLabels: [], routeLabels: [],
                tls: .established(clientID: "web.emojivoto.serviceaccount.identity.x", serverID: nil)))
        let events = [
            outbound.requestInit(
                id, method: "POST", scheme: "http", authority: "voting:8080", path: "/api/vote", headers: hub.extract(headers)
            ).bytes,
            outbound.responseInit(id, sinceRequestInit: 1_500_000, status: 503, headers: nil, proxyAnswered: "fault").bytes,
            outbound.responseEnd(
                id, sinceRequestInit: 2_000_000_123, sinceResponseInit: 500_000, responseBytes: 1234, end: .grpcStatus(0), trailers: nil
            ).bytes,
            outbound.responseEnd(id, sinceRequestInit: 1, sinceResponseInit: 0, responseBytes: 0, end: .reset(8), trailers: nil).bytes,
            inbound.tcpClose(id, nanoseconds: 3_000_000_000, bytesReceived: 10, bytesSent: 20).bytes,
            TapEventEncoder.Dropped(17).bytes,
        ]
        let decoded = try await Self.decode(events)
        func json(_ value: Any?) -> String {
            guard let value, let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return "nil" }
            return String(decoding: data, as: UTF8.self)
        }
        let first = decoded[0]
        #expect(json(first["source"]) == #"{"ip":{"ipv4":183763207},"port":41234}"#)
        #expect(json(first["destination"]) == #"{"ip":{"ipv6":{"first":"18230571291595767808","last":"23"}},"port":8080}"#)
        #expect(first["proxy_direction"] as? String == "OUTBOUND")
        #expect(
            json(first["destination_meta"])
                == #"{"labels":{"deployment":"voting","namespace":"emojivoto","#
                + #""server_id":"voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local","tls":"true"}}"#
        )
        #expect(json(first["route_meta"]) == #"{"labels":{"backend_name":"voting-v2","route_name":"split"}}"#)
        #expect(json(first["tls"]) == #"{"server_id":"voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local","state":"true"}"#)
        // Header values are bytes: base64 in JSON. "[redacted]" and "abc".
        #expect(
            json(first["http"])
                == #"{"request_init":{"authority":"voting:8080","headers":{"headers":["#
                + #"{"name":"authorization","value":"W3JlZGFjdGVkXQ=="},{"name":"x-trace","value":"YWJj"}]},"#
                + #""id":{"base":7,"stream":"42"},"method":{"registered":"POST"},"path":"/api/vote","scheme":{"registered":"HTTP"}}}"#,
            "a oneof's registered 0 is on the wire")
        #expect(
            json(decoded[1]["http"])
                == #"{"response_init":{"http_status":503,"id":{"base":7,"stream":"42"},"proxy_answered":"fault","#
                + #""since_request_init":"0.001500s"}}"#
        )
        #expect(
            json(decoded[2]["http"])
                == #"{"response_end":{"eos":{"grpc_status_code":0},"id":{"base":7,"stream":"42"},"response_bytes":"1234","#
                + #""since_request_init":"2.000000123s","since_response_init":"0.000500s"}}"#
        )
        #expect(
            json((decoded[3]["http"] as? [String: Any])?["response_end"].flatMap { ($0 as? [String: Any])?["eos"] })
                == #"{"reset_error_code":8}"#)
        let tcp = decoded[4]
        #expect(json(tcp["source_meta"]) == #"{"labels":{"client_id":"web.emojivoto.serviceaccount.identity.x","tls":"true"}}"#)
        #expect(json(tcp["tcp"]) == #"{"close":{"bytes_received":"10","bytes_sent":"20","duration":"3s","id":{"base":7,"stream":"42"}}}"#)
        #expect(json(decoded[5]) == #"{"dropped":{"events":"17"}}"#)
    }
}
