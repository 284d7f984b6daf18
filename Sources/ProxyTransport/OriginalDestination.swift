import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads where an iptables-redirected connection was going (`SO_ORIGINAL_DST`, from netfilter's conntrack).
public enum OriginalDestination {
    /// `SO_ORIGINAL_DST` and `IP6T_SO_ORIGINAL_DST` share the option number 80.
    static let optionName: SocketOptionName = 80

    /// Call inside the child channel initializer, on the channel's event loop, where the option provider answers
    /// synchronously. `nil` when the socket has no NAT entry (no iptables) or the option is unsupported.
    public static func read(from channel: Channel) -> SocketAddress? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        let local = channel.localAddress
        if case .v6? = local {
            let future: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IPV6), name: optionName
            )
            guard let address = try? future.assumeValue() else { return nil }
            return SocketAddress(address, host: "")
        }
        let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_IP), name: optionName
        )
        guard let address = try? future.assumeValue() else { return nil }
        return SocketAddress(address, host: "")
    }
}

extension EventLoopFuture {
    /// The value of a future that the caller knows has already completed (a socket option read on its loop).
    func assumeValue() throws -> Value {
        let result = NIOLoopBoundBox<Result<Value, Error>?>(nil, eventLoop: self.eventLoop)
        self.whenComplete { result.value = $0 }
        guard let value = result.value else { throw ChannelError.inappropriateOperationForState }
        return try value.get()
    }
}
