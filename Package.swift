// swift-tools-version:6.0
import PackageDescription

/// Targets of the data plane (`Proxy*`) stay lean: NIO, NIOSSL (whose BoringSSL also makes the proxy's key and CSR),
/// NIOHTTP2, Logging and ServiceLifecycle only, and no Foundation: no gRPC or protobuf runtime (the proxy's two gRPC
/// clients are small codecs in `ProxyGRPC`), no swift-crypto or swift-certificates. The control plane and the CLI
/// live in their own targets and keep grpc-swift.
let package = Package(
    name: "swiftlet",
    // Linux only (SO_ORIGINAL_DST, iptables, /proc, inotify, network namespaces): no other platform is claimed.
    products: [
        .executable(name: "swiftlet-proxy", targets: ["swiftlet-proxy"]),
        .executable(name: "swiftlet", targets: ["swiftlet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // The mesh's model, shared by the control plane and the proxy: routes, their matches, filters, timeouts and
        // retries, a Service port's policy, failure accrual and retry budgets, the proxy's traffic-capture rules.
        // Values only: no I/O, no HTTP types, no dependencies.
        .target(name: "MeshModel"),
        // Pure logic: configuration, errors, protocol detection, HTTP rules, metrics. No sockets.
        .target(
            name: "ProxyCore",
            dependencies: [
                "MeshModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        // L4: listeners, original destination, detection, opaque relay, upstream connections. `PeerIdentity` reads
        // why BoringSSL refused a peer's chain through `CNIOBoringSSL`, the C module of NIOSSL's BoringSSL: it is no
        // product of swift-nio-ssl, so it comes with the NIOSSL product below (one BoringSSL in the proxy, not two),
        // and is imported `internal` so that nothing of it leaks into this module's interface.
        .target(
            name: "ProxyTransport",
            dependencies: [
                "ProxyCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        // L7: HTTP/1.1 and HTTP/2 forwarding, pools, error responses.
        .target(
            name: "ProxyHTTP",
            dependencies: [
                "MeshModel",
                "ProxyCore",
                "ProxyTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Generated messages and stubs of our gRPC API (scripts/generate-proto).
        .target(
            name: "SwiftletAPI",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        // gRPC over NIOHTTP2 and protobuf by hand: the proxy's clients of the controller, without a gRPC runtime.
        .target(
            name: "ProxyGRPC",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The proxy's side of discovery: Destination streams, per-destination balancers.
        .target(
            name: "ProxyDiscovery",
            dependencies: [
                "MeshModel",
                "ProxyCore",
                "ProxyGRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The proxy's identity: a key in memory, certified by the controller, renewed before expiry. The key and its
        // CSR are made with BoringSSL's C API (`CNIOBoringSSL`, through the NIOSSL product, imported `internal`; see
        // ProxyTransport).
        .target(
            name: "ProxyIdentity",
            dependencies: [
                "ProxyCore",
                "ProxyGRPC",
                "ProxyTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Tap: the request path's tap stage, the match language, the events, and the proxy's tap server (gRPC by hand).
        .target(
            name: "ProxyTap",
            dependencies: [
                "ProxyCore",
                "ProxyGRPC",
                "ProxyHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Admin server and the proxy's assembly as ServiceLifecycle services.
        .target(
            name: "ProxyRuntime",
            dependencies: [
                "MeshModel",
                "ProxyCore",
                "ProxyTransport",
                "ProxyHTTP",
                "ProxyDiscovery",
                "ProxyIdentity",
                "ProxyTap",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "swiftlet-proxy",
            dependencies: [
                "ProxyRuntime"
            ]
        ),
        // A Kubernetes API client: configuration (in-cluster, kubeconfig), typed objects as Codable, list and watch.
        .target(
            name: "Kubernetes",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The control plane: cluster model, sources (files now, Kubernetes later), index, gRPC services.
        .target(
            name: "Controller",
            dependencies: [
                "Kubernetes",
                "MeshModel",
                "SwiftletAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
            ]
        ),
        // `swiftlet demo`: the demo application's services, its load generator, and the orchestration.
        .target(
            name: "Demo",
            dependencies: [
                "MeshModel",
                "SwiftletAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "ProxyCore",
            ]
        ),
        // The `swiftlet` commands: controller, demo (and the demo's own programs), version.
        .target(
            name: "CLI",
            dependencies: [
                "MeshModel",
                "Controller",
                "Kubernetes",
                "Demo",
                "ProxyCore",
                "ProxyRuntime",
                "SwiftletAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "CLI"
            ]
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "CLI",
                "Demo",
                "Controller",
                "SwiftletAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "ProxyCoreTests",
            dependencies: [
                "MeshModel",
                "ProxyCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        .testTarget(
            name: "ProxyHTTPTests",
            dependencies: [
                "MeshModel",
                "ProxyCore",
                "ProxyTransport",
                "ProxyHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        // The proxy's hand-written protobuf and gRPC codecs, checked against swift-protobuf's bytes.
        .testTarget(
            name: "ProxyGRPCTests",
            dependencies: [
                "MeshModel",
                "Controller",
                "ProxyCore",
                "ProxyDiscovery",
                "ProxyGRPC",
                "ProxyIdentity",
                "SwiftletAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "MeshModel",
                "Controller",
                "Kubernetes",
                "ProxyCore",
                "SwiftletAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "ProxyTapTests",
            dependencies: [
                "ProxyCore",
                "ProxyGRPC",
                "ProxyTap",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Real peers on loopback and network namespaces; spawns the built `swiftlet-proxy`.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "MeshModel",
                "Controller",
                "Kubernetes",
                "ProxyCore",
                "ProxyHTTP",
                "ProxyRuntime",
                "ProxyTap",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
