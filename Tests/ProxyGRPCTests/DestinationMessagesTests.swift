import NIOCore
import ProxyCore
import ProxyGRPC
import SwiftProtobuf
import SwiftletAPI
import Testing

@testable import ProxyDiscovery

/// The proxy's hand-written `Watch` codec speaks exactly what the controller's swift-protobuf code speaks.
struct DestinationMessagesTests {
    @Test func aSubscriptionIsEncodedAsSwiftProtobufEncodesIt() throws {
        let expected: Swiftlet_Destination_V1_WatchRequest = .with {
            $0.subscribe = .with {
                $0.id = 300
                $0.destination = .with {
                    $0.authority = "web.emojivoto.svc.cluster.local:8080"
                    $0.contextNamespace = "emojivoto"
                    $0.clientWorkload = "vote-bot"
                }
            }
        }
        let ours = DestinationMessages.subscribe(
            id: 300, authority: "web.emojivoto.svc.cluster.local:8080", namespace: "emojivoto", workload: "vote-bot")
        #expect(Array(ours.readableBytesView) == Array(try expected.serializedBytes() as [UInt8]))
        // A proxy without a workload name leaves the field out, as swift-protobuf does.
        let bare: Swiftlet_Destination_V1_WatchRequest = .with {
            $0.subscribe = .with {
                $0.id = 1; $0.destination = .with { $0.authority = "a:80" }
            }
        }
        #expect(
            Array(DestinationMessages.subscribe(id: 1, authority: "a:80", namespace: "", workload: "").readableBytesView)
                == Array(try bare.serializedBytes() as [UInt8]))
    }

    @Test func anUnsubscriptionIsEncodedAsSwiftProtobufEncodesIt() throws {
        for id: UInt64 in [0, 1, 127, 128, 1 << 40, .max] {
            let expected: Swiftlet_Destination_V1_WatchRequest = .with { $0.unsubscribe = id }
            #expect(Array(DestinationMessages.unsubscribe(id: id).readableBytesView) == Array(try expected.serializedBytes() as [UInt8]))
        }
    }

    @Test func endpointsAddedAreDecodedWithTheirLabelsIdentityAndHint() throws {
        let message: Swiftlet_Destination_V1_WatchUpdate = .with {
            $0.id = 7
            $0.update = .with {
                $0.add = .with {
                    $0.labels = ["dst_namespace": "emojivoto", "dst_service": "voting"]
                    $0.endpoints = [
                        .with {
                            $0.address = .with {
                                $0.ip = "10.244.0.7"; $0.port = 8080
                            }
                            $0.weight = 5000
                            $0.identity = "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local"
                            $0.protocolHint = .http2
                            $0.labels = ["dst_pod": "voting-1"]
                        },
                        .with {
                            $0.address = .with {
                                $0.ip = "::1"; $0.port = 9000
                            }
                        },
                    ]
                }
            }
        }
        let decoded = try WatchUpdate(decoding: ByteBuffer(bytes: try message.serializedBytes() as [UInt8]))
        #expect(decoded.id == 7)
        guard case .add(let endpoints, let labels)? = decoded.update else {
            Issue.record("expected endpoints added, got \(String(describing: decoded.update))")
            return
        }
        #expect(labels.sorted() == [MetricLabel("dst_namespace", "emojivoto"), MetricLabel("dst_service", "voting")])
        #expect(
            endpoints == [
                WireEndpoint(
                    address: HostPort(host: "10.244.0.7", port: 8080), weight: 5000,
                    identity: "voting.emojivoto.serviceaccount.identity.swiftlet.cluster.local", protocolHint: 1,
                    labels: [MetricLabel("dst_pod", "voting-1")]
                ),
                WireEndpoint(address: HostPort(host: "::1", port: 9000)),
            ]
        )

        var set = EndpointSet()
        set.apply(decoded.update!)
        guard case .endpoints(let discovered) = set.state else {
            Issue.record("expected endpoints")
            return
        }
        #expect(discovered.map(\.address) == [HostPort(host: "10.244.0.7", port: 8080), HostPort(host: "::1", port: 9000)])
        #expect(discovered[0].protocolHint == .http2 && discovered[0].weight == 5000)
        #expect(discovered[1].weight == 10_000 && discovered[1].identity == nil)
        #expect(discovered[0].labels.map(\.name) == ["dst_namespace", "dst_pod", "dst_service"])
    }

    @Test func removalsAndNoEndpointsAreDecoded() throws {
        let removal: Swiftlet_Destination_V1_WatchUpdate = .with {
            $0.id = 2
            $0.update = .with {
                $0.remove = .with {
                    $0.addresses = [
                        .with {
                            $0.ip = "10.0.0.1"; $0.port = 80
                        }
                    ]
                }
            }
        }
        #expect(
            try WatchUpdate(decoding: ByteBuffer(bytes: try removal.serializedBytes() as [UInt8]))
                == WatchUpdate(id: 2, update: .remove([HostPort(host: "10.0.0.1", port: 80)])))
        for exists in [false, true] {
            let none: Swiftlet_Destination_V1_WatchUpdate = .with {
                $0.id = 3; $0.update = .with { $0.noEndpoints = .with { $0.exists = exists } }
            }
            #expect(
                try WatchUpdate(decoding: ByteBuffer(bytes: try none.serializedBytes() as [UInt8]))
                    == WatchUpdate(id: 3, update: .noEndpoints(exists: exists)))
        }
    }

    @Test func fieldsFromANewerControllerAreSkipped() throws {
        var message: Swiftlet_Destination_V1_WatchUpdate = .with {
            $0.id = 9
            $0.update = .with { $0.noEndpoints = .with { $0.exists = true } }
        }
        // Field 15 (a string) and field 16 (a varint), unknown to both codecs.
        try message.merge(serializedBytes: [0x7a, 0x03, 0x61, 0x62, 0x63, 0x80, 0x01, 0x2a] as [UInt8])
        let decoded = try WatchUpdate(decoding: ByteBuffer(bytes: try message.serializedBytes() as [UInt8]))
        #expect(decoded == WatchUpdate(id: 9, update: .noEndpoints(exists: true)))
    }

    @Test func aMalformedUpdateIsAnErrorNeverACrash() throws {
        let valid: Swiftlet_Destination_V1_WatchUpdate = .with {
            $0.id = 1
            $0.update = .with {
                $0.add = .with {
                    $0.endpoints = [
                        .with {
                            $0.address = .with {
                                $0.ip = "10.0.0.1"; $0.port = 80
                            }
                        }
                    ]
                }
            }
        }
        let bytes: [UInt8] = try valid.serializedBytes()
        // Every truncation of a valid message is refused (or, cut at a field boundary, read as a shorter message).
        for length in 0..<bytes.count {
            _ = try? WatchUpdate(decoding: ByteBuffer(bytes: bytes[0..<length]))
        }
        #expect(throws: ProtobufError.self) { try WatchUpdate(decoding: ByteBuffer(bytes: bytes.dropLast())) }
        // A length that overruns, a varint that never ends, a port out of range.
        #expect(throws: ProtobufError.self) { try WatchUpdate(decoding: ByteBuffer(bytes: [0x12, 0x7f, 0x00])) }
        #expect(throws: ProtobufError.self) { try WatchUpdate(decoding: ByteBuffer(bytes: [0x08] + [UInt8](repeating: 0xff, count: 11))) }
        #expect(throws: ProtobufError.self) { try DestinationUpdate.address(ByteBuffer(bytes: [0x10, 0x80, 0x80, 0x04])) }
        // Random bytes: whatever they decode to, nothing traps.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let random = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? WatchUpdate(decoding: ByteBuffer(bytes: random))
        }
    }
}
