import ArgumentParser
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// `swiftlet tls-handshakes` (hidden, for bench/proxy): opens new TLS 1.3 connections with a client certificate
/// as fast as `--concurrency` loops allow and prints how many full handshakes completed per second. The same
/// client measures any server (a proxy's inbound, HAProxy), so their figures compare.
struct TLSHandshakesCommand: AsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls-handshakes", abstract: "Measures new mTLS connections per second.", shouldDisplay: false)

    @Option(help: "host:port to connect to.") var connect: String
    @Option(help: "SNI, and the name the server's certificate must carry.") var serverName: String
    @Option(help: "Client certificate chain (PEM).") var cert: String
    @Option(help: "Client key (PEM).") var key: String
    @Option(help: "Trust anchors (PEM).") var ca: String
    @Option(help: "Seconds to run.") var duration = 5
    @Option(help: "Connections in flight at once.") var concurrency = 4

    func execute() async throws {
        let (host, port) = try ControllerCommand.address(self.connect, option: "--connect")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.maximumTLSVersion = .tlsv13
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(self.cert).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: self.key, format: .pem))
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(self.ca))
        tls.certificateVerification = .noHostnameVerification
        tls.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: tls)
        let address = try SocketAddress(ipAddress: host, port: port)
        let counts = Counts()
        let deadline = ContinuousClock.now + .seconds(self.duration)
        let serverName = self.serverName
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<self.concurrency {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        do {
                            let done = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address) {
                                channel in
                                channel.eventLoop.makeCompletedFuture {
                                    // The waiter is in place before the first byte, so the handshake's end is never missed.
                                    let promise = channel.eventLoop.makePromise(of: Void.self)
                                    try channel.pipeline.syncOperations.addHandler(
                                        NIOSSLClientHandler(context: context, serverHostname: serverName))
                                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: promise))
                                    return (channel, promise.futureResult)
                                }
                            }
                            let channel = done.0
                            try await done.1.get()
                            // Not awaited: the close handshake is the server's business, not a new connection's cost.
                            channel.close(promise: nil)
                            counts.completed.add(1, ordering: .relaxed)
                        } catch {
                            counts.failed.add(1, ordering: .relaxed)
                            counts.errors.withLock { $0["\(error)", default: 0] += 1 }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = counts.completed.load(ordering: .relaxed)
        for (error, times) in counts.errors.withLock({ $0 }).sorted(by: { $0.value > $1.value }).prefix(5) {
            print("error x\(times): \(error)")
        }
        print("handshakes=\(count) failed=\(counts.failed.load(ordering: .relaxed)) per_second=\(Double(count) / Double(self.duration))")
    }

    final class Counts: Sendable {
        let completed = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        /// The kinds of failure seen, with how often (printed, so a failed run says why).
        let errors = Mutex<[String: Int]>([:])
    }

    final class HandshakeWaiter: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        private var promise: EventLoopPromise<Void>?

        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event {
                self.promise?.succeed()
                self.promise = nil
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            self.promise?.fail(error)
            self.promise = nil
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.promise?.fail(ChannelError.ioOnClosedChannel)
            self.promise = nil
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            self.promise?.fail(ChannelError.ioOnClosedChannel)
            self.promise = nil
        }
    }
}
