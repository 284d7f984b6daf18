import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle

/// The gRPC server of the discovery API as a ServiceLifecycle service: a graceful shutdown lets open streams end.
public struct DestinationServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix

    public init(host: String, port: Int, services: [any RegistrableRPCService]) {
        self.transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: .plaintext,
            config: .defaults { $0.http2.maxConcurrentStreams = 100_000 }
        )
        self.server = GRPCServer(transport: self.transport, services: services)
    }

    /// The bound port, once listening (the configured port may be 0).
    public func listeningPort() async throws -> Int {
        try await self.transport.listeningAddress.ipv4?.port ?? 0
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.server.serve()
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}
