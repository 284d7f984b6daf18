import Controller
import NIOCore
import SwiftProtobuf
import SwiftletAPI
import Testing

@testable import CLI

/// Tap's lines as Linkerd prints them, `top`'s table, and the stream's framing.
@Suite struct TapEventLineTests {
    static func event(_ http: Swiftlet_Tap_V1_TapEvent.Http, _ direction: Swiftlet_Tap_V1_TapEvent.ProxyDirection = .inbound)
        -> Swiftlet_Tap_V1_TapByResourceEvent
    {
        Swiftlet_Tap_V1_TapByResourceEvent.with {
            $0.proxy = "demo/web-0"
            $0.event = .with {
                $0.source = .with {
                    $0.ip = .with { $0.ipv4 = 0x0A00_0001 }
                    $0.port = 40312
                }
                $0.destination = .with {
                    $0.ip = .with {
                        $0.ipv6 = .with {
                            $0.first = 0xFD00_0000_0000_0000; $0.last = 1
                        }
                    }
                    $0.port = 8080
                }
                $0.proxyDirection = direction
                $0.tls = .with { $0.state = "true" }
                $0.http = http
                $0.routeMeta = .with { $0.labels = ["route": "web-route", "backend": "web-v2"] }
            }
            $0.sourceResource = ["namespace": "shop", "pod": "bot-1", "deployment": "bot"]
            $0.destinationResource = ["namespace": "shop", "pod": "web-0"]
        }
    }

    static let id = Swiftlet_Tap_V1_TapEvent.Http.StreamId.with {
        $0.base = 3
        $0.stream = 7
    }

    static func request(_ path: String = "/orders?page=2") -> Swiftlet_Tap_V1_TapByResourceEvent {
        Self.event(
            .with {
                $0.requestInit = .with {
                    $0.id = Self.id
                    $0.method = .with { $0.registered = .post }
                    $0.authority = "web.shop:8080"
                    $0.path = path
                }
            })
    }

    static func response(_ status: UInt32, micros: Int64 = 1500, answered: String = "") -> Swiftlet_Tap_V1_TapByResourceEvent {
        Self.event(
            .with {
                $0.responseInit = .with {
                    $0.id = Self.id
                    $0.httpStatus = status
                    $0.sinceRequestInit = .with { $0.nanos = Int32(micros * 1000) }
                    $0.proxyAnswered = answered
                }
            })
    }

    static func end(micros: Int64, grpc: UInt32? = nil, bytes: UInt64 = 512) -> Swiftlet_Tap_V1_TapByResourceEvent {
        Self.event(
            .with {
                $0.responseEnd = .with {
                    $0.id = Self.id
                    $0.sinceRequestInit = .with {
                        $0.seconds = micros / 1_000_000
                        $0.nanos = Int32(micros % 1_000_000 * 1000)
                    }
                    $0.sinceResponseInit = .with { $0.nanos = 56_000 }
                    $0.responseBytes = bytes
                    if let grpc { $0.eos = .with { $0.grpcStatusCode = grpc } }
                }
            })
    }

    @Test func eachEventIsOneLineInLinkerdsFormat() {
        #expect(
            TapEventLine.format(Self.request(), wide: false)
                == "req id=3:7 proxy=in src=10.0.0.1:40312 dst=[fd00::1]:8080 tls=true :method=POST :authority=web.shop:8080 "
                + ":path=/orders?page=2")
        #expect(
            TapEventLine.format(Self.response(503, answered: "fault"), wide: false)
                == "rsp id=3:7 proxy=in src=10.0.0.1:40312 dst=[fd00::1]:8080 tls=true :status=503 latency=1500µs proxy-answered=fault")
        #expect(
            TapEventLine.format(Self.end(micros: 2000, grpc: 5), wide: false)
                == "end id=3:7 proxy=in src=10.0.0.1:40312 dst=[fd00::1]:8080 tls=true grpc-status=NOT_FOUND duration=56µs "
                + "response-length=512B")
    }

    @Test func wideSaysWhereEachEndIsAndTheRoute() throws {
        let line = try #require(TapEventLine.format(Self.request(), wide: true))
        #expect(
            line.hasSuffix(" src_res=deploy/bot src_ns=shop dst_res=pod/web-0 dst_ns=shop rt_backend=web-v2 rt_route=web-route"), "\(line)")
    }

    @Test func errorsAndDropsGoToStandardErrorNotTheStream() {
        let failed = Swiftlet_Tap_V1_TapByResourceEvent.with { $0.error = "pod demo/web-1: its proxy's tap server cannot be reached" }
        #expect(TapEventLine.format(failed, wide: false) == nil)
        #expect(TapEventLine.notice(failed) == "tap: pod demo/web-1: its proxy's tap server cannot be reached")
        var dropped = Self.request()
        dropped.event.dropped = .with { $0.events = 12 }
        #expect(TapEventLine.notice(dropped)?.contains("dropped 12 events") == true)
        #expect(TapEventLine.notice(Self.request()) == nil)
    }

    @Test func topGroupsBySourceDestinationAndPathWithLinkerdsSuccess() {
        var table = TopTable()
        for (status, micros, grpc) in [(200, 900, nil), (503, 4000, nil), (200, 2_500_000, UInt32(0)), (200, 1200, UInt32(14))]
            as [(UInt32, Int64, UInt32?)]
        {
            table.add(Self.request("/orders?page=\(micros)"))
            table.add(Self.response(status))
            table.add(Self.end(micros: micros, grpc: grpc))
        }
        table.add(Self.request("/health"))
        table.add(Self.response(200))
        table.add(Self.end(micros: 10))
        let lines = table.lines(width: 100, height: 10)
        #expect(lines.count == 3, "a header and two rows: \(lines)")
        #expect(lines[0].hasPrefix("Source") && lines[0].hasSuffix("Success Rate"), "\(lines[0])")
        let orders = lines[1].split(separator: " ")
        #expect(Array(orders.prefix(5)) == ["bot-1", "web-0", "POST", "/orders", "4"], "the query is not part of the path: \(lines[1])")
        #expect(Array(orders.suffix(4)) == ["900µs", "2.50s", "1ms", "50.00%"], "best, worst, last; 503 and UNAVAILABLE fail: \(lines[1])")
        #expect(lines[2].contains("/health") && lines[2].hasSuffix("100.00%"))
        #expect(table.lines(width: 100, height: 2).count == 2, "the busiest rows fit the screen")
        #expect(table.lines(width: 60, height: 10).allSatisfy { $0.count <= 60 }, "narrowed to the terminal")
    }

    @Test func theStreamIsCutIntoEventsWhereverItsChunksEnd() throws {
        var stream: [UInt8] = []
        let events = [Self.request(), Self.response(200), Self.end(micros: 10, bytes: 1 << 20)]
        for event in events {
            let bytes: [UInt8] = try event.serializedBytes()
            var length = bytes.count
            while length >= 0x80 {
                stream.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            stream.append(UInt8(length))
            stream += bytes
        }
        var decoder = TapFrameDecoder()
        var decoded: [Swiftlet_Tap_V1_TapByResourceEvent] = []
        for byte in stream {
            decoder.append(ByteBuffer(bytes: [byte]))
            while let event = try decoder.next() { decoded.append(event) }
        }
        #expect(decoded == events)
        var corrupt = TapFrameDecoder()
        corrupt.append(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x7F]))
        #expect(throws: TapStreamError.self) { try corrupt.next() }
    }

    @Test func theTargetIsReadAsLinkerdsCLIReadsIt() throws {
        func target(_ words: [String]) throws -> Swiftlet_Tap_V1_Resource {
            try TapOptions.parse(words + ["-n", "shop"]).resource()
        }
        #expect(
            try target(["deploy/web"])
                == .with {
                    $0.type = "deployment"; $0.namespace = "shop"; $0.name = "web"
                })
        #expect(
            try target(["pod", "web-1"])
                == .with {
                    $0.type = "pod"; $0.namespace = "shop"; $0.name = "web-1"
                })
        #expect(try target(["ns/shop"]).type == "namespace")
        #expect(
            try target(["sts"])
                == .with {
                    $0.type = "statefulset"; $0.namespace = "shop"
                })
        #expect(throws: (any Error).self) { try target(["widget/web"]) }
        let request = try TapOptions.parse(["deploy/web", "--to", "svc/api", "--method", "post", "--path", "/o", "--max-rps", "7"]).request(
            headers: false)
        #expect(
            request.to
                == .with {
                    $0.type = "service"; $0.namespace = "default"; $0.name = "api"
                })
        #expect(request.maxRps == 7)
        #expect(request.match.all.matches.count == 2, "method and path, both required")
    }
}
