import NIOCore
import ProxyCore
import ProxyGRPC
import ProxyTap
import Testing

/// Linkerd's tap match language, evaluated as a user of `viz tap` relies on it.
@Suite struct TapMatchTests {
    static let request = TapSubject(
        direction: .outbound, source: HostPort(host: "10.244.1.7", port: 41234), destination: HostPort(host: "10.244.2.9", port: 8080),
        destinationLabels: [MetricLabel("dst_deployment", "voting"), MetricLabel("dst_namespace", "emojivoto")],
        routeLabels: [MetricLabel("route_name", "voting-split"), MetricLabel("backend_name", "voting-v2")],
        http: .init(scheme: "http", method: "POST", authority: "voting.emojivoto:8080", path: "/api/vote?choice=:doughnut:")
    )

    @Test func eachConditionOnItsOwn() throws {
        let request = Self.request
        #expect(TapMatch.everything.matches(request))
        #expect(TapMatch.method("POST").matches(request) && !TapMatch.method("GET").matches(request))
        #expect(TapMatch.scheme("HTTP").matches(request), "schemes compare without case")
        #expect(TapMatch.path(.prefix("/api/")).matches(request) && !TapMatch.path(.exact("/api/vote")).matches(request))
        #expect(TapMatch.authority(.exact("voting.emojivoto:8080")).matches(request))
        #expect(TapMatch.destinationLabel(key: "deployment", value: "voting").matches(request), "Linkerd's keys, without dst_")
        #expect(!TapMatch.destinationLabel(key: "deployment", value: "web").matches(request))
        #expect(TapMatch.routeLabel(key: "backend_name", value: "voting-v2").matches(request))
        #expect(TapMatch.source(.netmask(try #require(TapAddress("10.244.1.0")), bits: 24)).matches(request))
        #expect(!TapMatch.source(.netmask(try #require(TapAddress("10.244.1.0")), bits: 32)).matches(request))
        #expect(TapMatch.destination(.ports(8000...8080)).matches(request) && !TapMatch.destination(.ports(80...80)).matches(request))
    }

    @Test func allAnyAndNotCompose() {
        let post = TapMatch.method("POST")
        let get = TapMatch.method("GET")
        #expect(TapMatch.all([post, .path(.prefix("/api"))]).matches(Self.request))
        #expect(!TapMatch.all([post, get]).matches(Self.request))
        #expect(TapMatch.any([get, post]).matches(Self.request))
        #expect(!TapMatch.any([]).matches(Self.request), "any of nothing is false, all of nothing true")
        #expect(TapMatch.not(get).matches(Self.request) && !TapMatch.not(post).matches(Self.request))
    }

    @Test func anOpaqueConnectionMatchesNoHTTPCondition() {
        var connection = Self.request
        connection.http = nil
        #expect(!TapMatch.method("POST").matches(connection))
        #expect(TapMatch.not(.method("POST")).matches(connection))
        #expect(TapMatch.destination(.ports(8080...8080)).matches(connection))
    }

    @Test func addressesOfEitherFamilyAndMappedIPv4() throws {
        var request = Self.request
        request.source = HostPort(host: "::ffff:10.244.1.7", port: 1)
        #expect(TapMatch.source(.netmask(try #require(TapAddress("10.244.0.0")), bits: 16)).matches(request), "a dual-stack socket's IPv4")
        request.source = HostPort(host: "fd00:10:244::17", port: 1)
        #expect(TapMatch.source(.netmask(try #require(TapAddress("fd00:10:244::")), bits: 48)).matches(request))
        #expect(!TapMatch.source(.netmask(try #require(TapAddress("10.244.0.0")), bits: 16)).matches(request), "families never match")
        #expect(TapAddress("not-an-ip") == nil)
    }

    static func observe(_ build: (inout ProtobufWriter) -> Void) -> ByteBuffer {
        var writer = ProtobufWriter()
        build(&writer)
        return writer.buffer
    }

    @Test func whatCannotBeMeantIsInvalidArgument() {
        #expect(throws: TapRequestError("limit must be more than 0")) { try TapObserveRequest(decoding: Self.observe { _ in }) }
        // A match with nothing set.
        #expect(throws: TapRequestError("a match with no condition set")) {
            try TapObserveRequest(
                decoding: Self.observe { writer in
                    writer.write(1, varint: 3)
                    writer.writeMessage(2) { _ in }
                })
        }
        // A port range whose bounds cross.
        #expect(throws: TapRequestError.self) {
            try TapObserveRequest(
                decoding: Self.observe { writer in
                    writer.write(1, varint: 3)
                    writer.writeMessage(2) { match in
                        match.writeMessage(5) { tcp in
                            tcp.writeMessage(3) { range in
                                range.write(1, varint: 90)
                                range.write(2, varint: 80)
                            }
                        }
                    }
                })
        }
        // Not protobuf.
        #expect(throws: TapRequestError.self) { try TapObserveRequest(decoding: ByteBuffer(bytes: [0x0A, 0x05, 0x01])) }
    }

    @Test func aPortRangeWithOneBoundIsThatPort() throws {
        let request = try TapObserveRequest(
            decoding: Self.observe { writer in
                writer.write(1, varint: 1)
                writer.writeMessage(2) { match in
                    match.writeMessage(5) { tcp in tcp.writeMessage(3) { range in range.write(2, varint: 8080) } }
                }
            })
        #expect(request.match == .destination(.ports(8080...8080)))
    }
}
